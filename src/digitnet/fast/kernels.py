"""Compiled loops (numba) for the training hot paths; each does what a few NumPy lines in
:mod:`network` and :mod:`optim` do, without their per-call overhead.

Readers: start with network.py; tests/test_fused.py and tests/test_blog.py check every kernel against it.
:func:`batch_epoch` runs a whole mini-batch epoch in one call, its matrix products in BLAS through
numba's np.dot (SciPy's BLAS) and its float32 tanh by a rational function that vectorises; outside
it, products and tanh stay in NumPy.
"""

from __future__ import annotations

import math
import os
import sys

import numpy as np
from numba import njit


def _cache_writable() -> bool:
    """Whether numba can cache this module's compiled code: in NUMBA_CACHE_DIR, a __pycache__ beside this file, or
    numba's user cache (~/.cache/numba). When none is writable (installed by root, run by a user without a
    writable home, as a service is), the kernels compile in memory each run, and stderr says so once, in one
    line (child processes, which inherit DIGITNET_NUMBA_IN_MEMORY, say nothing)."""

    def probe():  # defined here: numba looks for a cache beside the file that defines the function
        pass

    try:
        njit(cache=True)(probe)  # finds a cache location (and checks it is writable) without compiling
        return True
    except RuntimeError:  # "cannot cache function ...: no locator available"
        if not os.environ.get("DIGITNET_NUMBA_IN_MEMORY"):
            os.environ["DIGITNET_NUMBA_IN_MEMORY"] = "1"
            sys.stderr.write("digitnet: numba cannot cache compiled code here (no writable __pycache__ beside "
                             "digitnet, NUMBA_CACHE_DIR or ~/.cache): compiling in memory, a few seconds each run; "
                             "set NUMBA_CACHE_DIR to a writable folder to keep it\n")
        return False


_CACHE = _cache_writable()  # compiled code is cached next to this file, or in numba's cache folders
SGD, ADAM, NESTEROV = 0, 1, 2  # batch_epoch's update rules (optim.SGD, Adam, Nesterov)

# error_model="numpy": division by zero gives inf/NaN as in NumPy, and no per-division check blocks vectorisation


@njit(cache=_CACHE, error_model="numpy", inline="always")
def _tanh(z):
    """tanh(z) = (1 - u) / (1 + u), u = exp(-2|z|): |error| < 4e-16, and glibc's exp is 5x cheaper than its tanh."""
    u = math.exp(-2.0 * abs(z))
    return math.copysign((1.0 - u) / (1.0 + u), z)


@njit(cache=_CACHE, error_model="numpy", inline="always")
def _sech2(z):
    """1 - tanh(z)^2 = 4u / (1 + u)^2, u = exp(-2|z|): no cancellation for large |z|."""
    u = math.exp(-2.0 * abs(z))
    return 4.0 * u / ((1.0 + u) * (1.0 + u))


@njit(cache=_CACHE, error_model="numpy", inline="always")
def _softmax_row(p):
    """In place: p -> exp(p - max p) / sum; returns the index of the largest entry."""
    best = 0
    for k in range(1, p.shape[0]):
        if p[k] > p[best]:
            best = k
    top = p[best]
    total = p.dtype.type(0.0)
    for k in range(p.shape[0]):
        p[k] = np.exp(p[k] - top)
        total += p[k]
    for k in range(p.shape[0]):
        p[k] /= total
    return best


@njit(cache=_CACHE, error_model="numpy")
def sample_epoch(W1, W2, X, Y, y, M, lr, exact, sum_sq=0.0):
    """One per-sample SGD epoch of the squared error, in the split's order, updating W1 (d, H) and W2 (H, K) in place.

    ``exact`` False: the post's update rule (network.backward_blog, with its unguarded softmax);
    True: the exact gradient (network.backward with loss "mse", stable softmax). Every sum runs
    in a fixed order, no BLAS: the result does not depend on the BLAS build or the CPU's kernels.
    M: (n, H) dropout masks (0 or scale), or an array with no rows for no dropout.
    Returns (summed squared error, argmax hits); ``sum_sq`` is the sum so far, so that an epoch run in
    several calls over consecutive rows adds in the same order as one call.
    """
    n, d = X.shape
    H, K = W2.shape
    a1 = np.empty(H, W1.dtype)
    h = np.empty(H, W1.dtype)
    p = np.empty(K, W1.dtype)
    dz2 = np.empty(K, W1.dtype)
    dz1 = np.empty(H, W1.dtype)
    dropout = M.shape[0] > 0
    hits = 0
    for s in range(n):
        x = X[s]
        a1[:] = 0.0
        for i in range(d):  # a1 = tanh(x @ W1), h = a1 * m
            xi = x[i]
            row = W1[i]
            for j in range(H):
                a1[j] += xi * row[j]
        for j in range(H):
            a1[j] = _tanh(a1[j])
            h[j] = a1[j] * M[s, j] if dropout else a1[j]
        p[:] = 0.0
        for j in range(H):  # z2 = h @ W2
            hj = h[j]
            row = W2[j]
            for k in range(K):
                p[k] += hj * row[k]
        if exact:
            best = _softmax_row(p)
        else:  # the post's softmax: no maximum subtracted, so it overflows where the logits grow past 709
            total = 0.0
            for k in range(K):
                p[k] = math.exp(p[k])
                total += p[k]
            best = 0
            for k in range(K):
                p[k] /= total
                if p[k] > p[best]:
                    best = k
        hits += best == y[s]
        if exact:  # dz2 = p * (g - g . p), g = 2 (p - y): the softmax Jacobian applied to dL/dp
            gp = 0.0
            for k in range(K):
                delta = p[k] - Y[s, k]
                sum_sq += delta * delta
                dz2[k] = 2.0 * delta
                gp += dz2[k] * p[k]
            for k in range(K):
                dz2[k] = (dz2[k] - gp) * p[k]
        else:
            total = 0.0
            for k in range(K):  # s = softmax(p): the "derivative" is taken at the output
                dz2[k] = math.exp(p[k])
                total += dz2[k]
            for k in range(K):
                sk = dz2[k] / total
                delta = p[k] - Y[s, k]
                sum_sq += delta * delta
                dz2[k] = delta * sk * (1.0 - sk)
        for j in range(H):  # with W2 before its update
            if dropout and M[s, j] == 0.0:
                dz1[j] = 0.0
            else:
                acc = 0.0
                row = W2[j]
                for k in range(K):
                    acc += row[k] * dz2[k]
                if exact:  # dz1 = dh * m * (1 - a1^2)
                    dz1[j] = acc * (M[s, j] if dropout else 1.0) * (1.0 - a1[j] * a1[j])
                else:  # the post: derivative at h, 0/1 mask
                    dz1[j] = acc * _sech2(h[j])
        for j in range(H):
            a = lr * h[j]
            row = W2[j]
            for k in range(K):
                row[k] -= a * dz2[k]
        for i in range(d):
            a = lr * x[i]
            row = W1[i]
            for j in range(H):
                row[j] -= a * dz1[j]
    return sum_sq, hits


@njit(cache=_CACHE, error_model="numpy")
def dropout_apply(a1, u, cut, scale, h):
    """h = a1 * m with m = scale where the random byte u >= cut, else 0 (network.dropout_mask's mask)."""
    n, H = a1.shape
    s = a1.dtype.type(scale)  # arithmetic in the arrays' precision, as NumPy does
    for r in range(n):
        for j in range(H):
            h[r, j] = a1[r, j] * s if u[r, j] >= cut else a1[r, j] * 0.0


@njit(cache=_CACHE, error_model="numpy")
def output_layer(z2, b2, Y, y, dz2, loss_kind):
    """In place: z2 (+ b2) -> p = softmax; dz2 = dL/dz2 for loss_kind 0 (cross-entropy) or 1 (MSE).

    b2 with no entries means no bias. Returns (summed loss, argmax hits).
    """
    n, K = z2.shape
    t = z2.dtype.type
    two_over_n, inv_n = t(2.0 / n), t(1.0 / n)
    bias = b2.shape[0] > 0
    total_loss = 0.0
    hits = 0
    for r in range(n):
        z, d = z2[r], dz2[r]
        if bias:
            for k in range(K):
                z[k] += b2[k]
        best = 0
        for k in range(1, K):
            if z[k] > z[best]:
                best = k
        hits += best == y[r]
        top = z[best]
        total = t(0.0)
        for k in range(K):  # exp(z - max z), kept in d until the gradient overwrites it
            d[k] = np.exp(z[k] - top)
            total += d[k]
        if loss_kind == 0:
            # log p_k = z_k - max z - log(sum exp(z - max z)): log-sum-exp, no log of a tiny p
            log_total = math.log(total)
            for k in range(K):
                total_loss -= Y[r, k] * (z[k] - top - log_total)
                z[k] = d[k] / total
                d[k] = (z[k] - Y[r, k]) * inv_n
        else:
            gp = t(0.0)
            for k in range(K):
                z[k] = d[k] / total
                e = z[k] - Y[r, k]
                total_loss += e * e
                d[k] = e * two_over_n
                gp += d[k] * z[k]
            for k in range(K):
                d[k] = (d[k] - gp) * z[k]
    return total_loss, hits


@njit(cache=_CACHE, error_model="numpy")
def hidden_delta(dh, u, cut, scale, a1, gb1):
    """In place: dh -> dz1 = dh * m * (1 - a1^2); gb1 = column sums of dz1 (when it has entries).

    u with no rows means no dropout.
    """
    n, H = dh.shape
    dropout = u.shape[0] > 0
    bias = gb1.shape[0] > 0
    s = dh.dtype.type(scale)
    one = dh.dtype.type(1.0)
    for j in range(gb1.shape[0]):
        gb1[j] = 0.0
    for r in range(n):
        d, a = dh[r], a1[r]
        if dropout:
            m = u[r]
            for j in range(H):
                d[j] = d[j] * s if m[j] >= cut else d[j] * 0.0
        for j in range(H):
            d[j] *= one - a[j] * a[j]
        if bias:
            for j in range(H):
                gb1[j] += d[j]


@njit(cache=_CACHE, error_model="numpy")
def column_sums(a, out):
    for k in range(out.shape[0]):
        out[k] = 0.0
    for r in range(a.shape[0]):
        for k in range(a.shape[1]):
            out[k] += a[r, k]


@njit(cache=_CACHE, error_model="numpy")
def add_l2(theta, grad, l2, n_weights):
    """grad[i] += l2 * theta[i] for the first n_weights entries (the weights; biases are not decayed)."""
    if l2 != 0:
        for i in range(n_weights):
            grad[i] += l2 * theta[i]


@njit(cache=_CACHE, error_model="numpy")
def sgd_step(theta, grad, lr, l2, n_weights):
    """optim.SGD.step on one flat vector, after adding l2 * theta to the first n_weights entries of grad."""
    t = theta.dtype.type
    lr, l2 = t(lr), t(l2)
    add_l2(theta, grad, l2, n_weights)
    for i in range(theta.shape[0]):
        theta[i] -= lr * grad[i]


@njit(cache=_CACHE, error_model="numpy")
def nesterov_step(theta, grad, m, lr, mu, l2, n_weights):
    """optim.Nesterov.step on one flat vector (velocity m), after adding l2 * theta to the first n_weights entries of grad."""
    t = theta.dtype.type
    lr, mu, l2 = t(lr), t(mu), t(l2)
    add_l2(theta, grad, l2, n_weights)
    for i in range(theta.shape[0]):
        g = grad[i]
        m[i] = m[i] * mu + g
        theta[i] -= lr * (g + mu * m[i])


@njit(cache=_CACHE, error_model="numpy")
def adam_step(theta, grad, m, v, lr_t, beta1, beta2, eps, l2, n_weights):
    """optim.Adam.step on one flat vector, after adding the L2 gradient l2 * theta to the first n_weights entries of grad."""
    t = theta.dtype.type  # constants rounded to the parameters' precision, as NumPy does
    b1, one_b1, b2, one_b2 = t(beta1), t(1.0 - beta1), t(beta2), t(1.0 - beta2)
    lr_t, eps, l2 = t(lr_t), t(eps), t(l2)
    add_l2(theta, grad, l2, n_weights)
    for i in range(theta.shape[0]):
        g = grad[i]
        m[i] = m[i] * b1 + g * one_b1
        v[i] = v[i] * b2 + g * g * one_b2
        theta[i] -= m[i] / (np.sqrt(v[i]) + eps) * lr_t


@njit(cache=_CACHE, error_model="numpy", nogil=True, fastmath={"contract"})
def predict_rows(X, W1, b1, W2T, b2, low, high, P):
    """P[r] = softmax(tanh(X[r] @ W1 + b1) @ W2T.T + b2) for each raw row X[r], row by row: checks, forward, softmax.

    W1, b1 have the input scaling folded in; W2T is W2 transposed (K, H). Returns the first row with a value
    outside [low, high] (or NaN), else -1. Every row is computed alone, by the same instructions in the same
    order, so its probabilities do not depend on the batch it comes in (nor on which thread computes it).
    """
    n, d = X.shape
    K, H = W2T.shape
    a = np.empty((1, H), W1.dtype)
    on = np.empty(d, np.int64)
    x = np.empty(d, W1.dtype)
    for r in range(n):
        row = X[r]
        for i in range(d):
            if not (row[i] >= low and row[i] <= high):
                return r
        _hidden(row, W1, b1, a[0], on, x)
        bias_tanh(a, b1[:0])
        p = P[r]
        for k in range(K):
            p[k] = b2[k] + _dot(a[0], W2T[k])
        _softmax_row(p)
    return -1


@njit(cache=_CACHE, error_model="numpy", fastmath={"contract"}, inline="always")
def _hidden(row, W1, b1, a, on, x):
    """a = b1 + row @ W1 over the non-zero inputs only (half an 8x8 digit's pixels are zero, 81% of an MNIST
    image's), four W1 rows per pass over a: a += (x0 w0 + x1 w1) + (x2 w2 + x3 w3)."""
    m = 0
    for i in range(row.shape[0]):  # branch-free gathering of the non-zero inputs
        xi = W1.dtype.type(row[i])
        on[m] = i
        x[m] = xi
        m += xi != 0
    H = a.shape[0]
    for j in range(H):
        a[j] = b1[j]
    g = 0
    while g + 4 <= m:
        w0, w1, w2, w3 = W1[on[g]], W1[on[g + 1]], W1[on[g + 2]], W1[on[g + 3]]
        x0, x1, x2, x3 = x[g], x[g + 1], x[g + 2], x[g + 3]
        for j in range(H):
            a[j] += (x0 * w0[j] + x1 * w1[j]) + (x2 * w2[j] + x3 * w3[j])
        g += 4
    while g < m:
        w0, x0 = W1[on[g]], x[g]
        for j in range(H):
            a[j] += x0 * w0[j]
        g += 1


# reassoc: the sum vectorises (partial sums in SIMD lanes, then added across): a fixed order for every row.
# Not inlined: inlined, it would take its caller's flags and add one term at a time (8x slower)
@njit(cache=_CACHE, error_model="numpy", nogil=True, fastmath={"contract", "reassoc"})
def _dot(a, w):
    """sum_j a[j] w[j]"""
    s = a.dtype.type(0)
    for j in range(a.shape[0]):
        s += a[j] * w[j]
    return s


@njit(cache=_CACHE, error_model="numpy", inline="always", fastmath={"contract"})
def _tanh32(x):
    """tanh for float32: clamp to +-7.9053 (where tanh rounds to +-1) and a [13/6] rational function of x
    (Eigen's float tanh): within 6 ulp, and plain arithmetic, so the loop vectorises (glibc's tanhf does not)."""
    t = np.float32
    x = min(max(x, t(-7.90531110763549805)), t(7.90531110763549805))
    x2 = x * x
    p = t(-2.76076847742355e-16)
    p = p * x2 + t(2.00018790482477e-13)
    p = p * x2 + t(-8.60467152213735e-11)
    p = p * x2 + t(5.12229709037114e-08)
    p = p * x2 + t(1.48572235717979e-05)
    p = p * x2 + t(6.37261928875436e-04)
    p = p * x2 + t(4.89352455891786e-03)
    q = t(1.19825839466702e-06)
    q = q * x2 + t(1.18534705686654e-04)
    q = q * x2 + t(2.26843463243900e-03)
    q = q * x2 + t(4.89352518554385e-03)
    return x * p / q


# FMAs and a reciprocal for the division (1.3x faster, within 5 ulp of tanh); no "nnan"/"ninf", so a NaN still
# propagates to the loss, which is how divergence is detected
@njit(cache=_CACHE, error_model="numpy", fastmath={"contract", "arcp", "afn"})
def bias_tanh(a, b):
    """In place: a (+ b, when b has entries) -> tanh(a); float32 by :func:`_tanh32`, float64 by :func:`_tanh`."""
    n, H = a.shape
    bias = b.shape[0] > 0
    for r in range(n):
        row = a[r]
        if bias:
            for j in range(H):
                row[j] += b[j]
        if a.itemsize == 4:
            for j in range(H):
                row[j] = _tanh32(row[j])
        else:
            for j in range(H):
                row[j] = _tanh(row[j])


@njit(cache=_CACHE, error_model="numpy")
def gather(X, order, start, shifts, warps, fields, height, width, fill, padded, out):
    """out[r] = X[order[start + r]] for each row r of out (X's rows are height x width images, row by row),
    changed by the epoch's augmentation (fast/augment.py) of sample start + r: moved by shifts (down, right)
    whole pixels when shifts has rows, else warped as warps says when it has rows (:func:`warp`); pixels
    from outside the image are fill. padded: a buffer of padded_size(height, width) values."""
    shifted = shifts.shape[0] > 0
    warped = warps.shape[0] > 0
    for r in range(out.shape[0]):
        src, dst = X[order[start + r]], out[r]
        if warped:
            warp(src, warps[start + r], fields, height, width, fill, padded, dst)
            continue
        if not shifted:
            for j in range(dst.shape[0]):  # a plain loop: a slice assignment checks shapes every row
                dst[j] = src[j]
            continue
        dy, dx = shifts[start + r, 0], shifts[start + r, 1]
        first, last = max(0, dx), min(width, width + dx)  # the columns that come from the source row
        for row in range(height):
            to = row * width
            from_row = row - dy
            if from_row < 0 or from_row >= height:
                for j in range(to, to + width):
                    dst[j] = fill
                continue
            for j in range(to, to + first):
                dst[j] = fill
            offset = from_row * width - dx - to  # dst[j] = src[j + offset] for the columns that come from the source
            for j in range(to + first, to + last):
                dst[j] = src[j + offset]
            for j in range(to + last, to + width):
                dst[j] = fill


@njit(cache=_CACHE, error_model="numpy")
def ema_step(average, theta, decay):
    """optim.WeightAverage.step: average <- decay * average + (1 - decay) * theta, as average += (1 - decay) (theta - average)."""
    rate = average.dtype.type(1.0 - decay)
    for i in range(theta.shape[0]):
        average[i] += rate * (theta[i] - average[i])


@njit(cache=_CACHE, inline="always")
def padded_size(height, width):
    """Values in warp's buffer: the image with one row and column of fill above and left, two below and right."""
    return (height + 3) * (width + 3)


@njit(cache=_CACHE, error_model="numpy")
def warp(src, w, fields, height, width, fill, padded, dst):
    """dst = the image src (height * width,) with its strokes blended toward their grey dilation (w[6] > 0) or
    erosion (w[6] < 0) by |w[6]|, then read through the affine map w[0:4] (output offset from the centre ->
    source offset), moved by w[4:6] and displaced by the elastic field fields[w[7]] (w[7] < 0: none), by
    bilinear interpolation with fill outside the image. augment.warp_reference is the same in SciPy.

    The image is first written into ``padded`` inside a border of fill, so that every read, clamped to the
    border, is in bounds: no branch per pixel."""
    pw = width + 3
    for i in range(pw):  # the border: one row above, two below, one column left, two right
        padded[i] = fill
    for i in range((height + 1) * pw, (height + 3) * pw):
        padded[i] = fill
    for r in range(1, height + 1):
        padded[r * pw] = fill
        padded[r * pw + width + 1] = fill
        padded[r * pw + width + 2] = fill
    if w[6] != 0.0:
        stroke_width(src, w[6], height, width, fill, padded[pw + 1:], pw)
    else:
        for r in range(height):
            to, at = (r + 1) * pw + 1, r * width
            for c in range(width):
                padded[to + c] = src[at + c]
    k = int(w[7])
    elastic = k >= 0
    t = dst.dtype.type  # coordinates in the images' precision: float32 is a quarter faster
    one, zero = t(1.0), t(0.0)
    cy, cx = t((height - 1) * 0.5), t((width - 1) * 0.5)
    bottom, right = t(height + 1), t(width + 1)
    m_rr, m_rc, m_cr, m_cc = t(w[0]), t(w[1]), t(w[2]), t(w[3])
    for r in range(height):
        u = t(r) - cy
        # where column offset 0 of this row reads, in the padded image's coordinates (one more)
        row_r, row_c = m_rr * u + cy + t(w[4]) + one, m_cr * u + cx + t(w[5]) + one
        out = dst[r * width:(r + 1) * width]
        for c in range(width):
            v = t(c) - cx
            sr, sc = row_r + m_rc * v, row_c + m_cc * v
            if elastic:
                sr += fields[k, 0, r, c]
                sc += fields[k, 1, r, c]
            # into [0, height + 1] x [0, width + 1]: beyond, the four pixels read are fill anyway (NaN becomes 0)
            sr = sr if sr > zero else zero
            sr = sr if sr < bottom else bottom
            sc = sc if sc > zero else zero
            sc = sc if sc < right else right
            r0, c0 = int(sr), int(sc)  # floor: they are >= 0
            fr, fc = sr - t(r0), sc - t(c0)
            i = r0 * pw + c0
            above, below = padded[i:i + 2], padded[i + pw:i + pw + 2]
            out[c] = (one - fr) * ((one - fc) * above[0] + fc * above[1]) + fr * ((one - fc) * below[0] + fc * below[1])


@njit(cache=_CACHE, error_model="numpy")
def stroke_width(src, t, height, width, fill, out, stride):
    """out[r * stride + c] = (1 - |t|) src + |t| D(src) at pixel (r, c) of src (height * width,), D the grey
    dilation (t > 0: strokes of ink-high images thicken) or erosion (t < 0) by a pixel and its 4 neighbours,
    pixels outside the image being fill."""
    a = abs(t)
    sign = 1.0 if t > 0.0 else -1.0  # erosion is the dilation of -src
    for r in range(height):
        at = r * width
        for c in range(width):
            i = at + c
            m = sign * src[i]
            m = max(m, sign * (src[i - width] if r > 0 else fill))
            m = max(m, sign * (src[i + width] if r + 1 < height else fill))
            m = max(m, sign * (src[i - 1] if c > 0 else fill))
            m = max(m, sign * (src[i + 1] if c + 1 < width else fill))
            out[r * stride + c] = (1.0 - a) * src[i] + a * sign * m


@njit(cache=_CACHE, error_model="numpy")
def batch_epoch(X, Y, y, order, shifts, warps, fields, height, width, fill, U, step_sizes, batch_size, theta, grad,
                W1, b1, W2, b2, gW1, gb1, gW2, gb2, m, v, rule, beta1, beta2, eps, l2, n_decayed, cut, scale,
                loss_kind, Xb, Yb, yb, a1, h, dh, z2, dz2, average, decays, tW1, tb1, tW2, tb2, ta1, tz2, distill,
                inv_T, total_loss=0.0):
    """A whole mini-batch epoch in one call: fast.step.step and the optimizer's update for each batch of
    ``order``, with products in BLAS (np.dot) and no Python between the steps.

    shifts, warps, fields: the epoch's augmentation (see :func:`gather`); U: the epoch's dropout bytes, row i
    for the i-th sample of ``order`` (no rows: no dropout); step_sizes: each step's rate (Adam's
    bias-corrected one); rule: SGD, ADAM or NESTEROV, m, v their state (Nesterov: the velocity m, the momentum
    as beta1); average, decays: the weights' moving average and each step's decay (no entries: no
    averaging). tW1, tb1, tW2, tb2: a teacher network's weights for the scaled inputs (no rows: none), whose
    probabilities at temperature 1 / inv_T make up the share ``distill`` of each target row (:func:`distill_targets`;
    ta1, tz2 its buffers). Returns (summed loss, argmax hits); ``total_loss`` is the sum so far, so that an
    epoch run in several calls over consecutive whole batches adds in the same order as one call.
    """
    n = order.shape[0]
    dropout = U.shape[0] > 0
    padded = np.empty(padded_size(height, width) if warps.shape[0] > 0 else 0, Xb.dtype)
    hits = 0
    step = 0
    for start in range(0, n, batch_size):
        rows = min(batch_size, n - start)
        xb, tb, lb = Xb[:rows], Yb[:rows], yb[:rows]
        gather(X, order, start, shifts, warps, fields, height, width, fill, padded, xb)  # the batch, into fixed buffers
        for r in range(rows):
            i = order[start + r]
            for k in range(Y.shape[1]):
                tb[r, k] = Y[i, k]
            lb[r] = y[i]
        if tW1.shape[0] > 0:
            distill_targets(xb, tW1, tb1, tW2, tb2, ta1[:rows], tz2[:rows], distill, inv_T, tb)
        a, hb, d, z, dz = a1[:rows], h[:rows], dh[:rows], z2[:rows], dz2[:rows]
        np.dot(xb, W1, a)
        bias_tanh(a, b1)
        if dropout:
            dropout_apply(a, U[start:start + rows], cut, scale, hb)
        else:
            hb = a
        np.dot(hb, W2, z)
        loss, batch_hits = output_layer(z, b2, tb, lb, dz, loss_kind)
        total_loss += loss
        hits += batch_hits
        np.dot(hb.T, dz, gW2)
        if gb2.shape[0] > 0:
            column_sums(dz, gb2)
        np.dot(dz, W2.T, d)
        hidden_delta(d, U[start:start + rows] if dropout else U, cut, scale, a, gb1)
        np.dot(xb.T, d, gW1)
        if rule == ADAM:
            adam_step(theta, grad, m, v, step_sizes[step], beta1, beta2, eps, l2, n_decayed)
        elif rule == NESTEROV:  # beta1: the momentum
            nesterov_step(theta, grad, m, step_sizes[step], beta1, l2, n_decayed)
        else:
            sgd_step(theta, grad, step_sizes[step], l2, n_decayed)
        if average.shape[0] > 0:
            ema_step(average, theta, decays[step])
        step += 1
    return total_loss, hits


@njit(cache=_CACHE, error_model="numpy")
def distill_targets(xb, tW1, tb1, tW2, tb2, ta1, tz2, distill, inv_T, tb):
    """In place: target rows tb (n, K) -> (1 - distill) * tb + distill * softmax(z / T), z = tanh(xb @ tW1 + tb1)
    @ tW2 + tb2 the teacher's logits for the batch xb as the student sees it (distortions included), T = 1 / inv_T:
    knowledge distillation's soft targets (Hinton, Vinyals and Dean 2015)."""
    np.dot(xb, tW1, ta1)
    bias_tanh(ta1, tb1)
    np.dot(ta1, tW2, tz2)
    for r in range(tz2.shape[0]):
        q = tz2[r]
        for k in range(q.shape[0]):
            q[k] = (q[k] + tb2[k]) * inv_T
        _softmax_row(q)
        for k in range(q.shape[0]):
            tb[r, k] = (1.0 - distill) * tb[r, k] + distill * q[k]


@njit(cache=_CACHE, error_model="numpy")
def scale_rows(X, rows, offset, scale, out):
    """out[i] = (X[rows[i]] - offset) / scale, in float64 then rounded to out's type: data.Scaling.apply's
    arithmetic, without its float64 temporaries."""
    for i in range(rows.shape[0]):
        src, dst = X[rows[i]], out[i]
        for j in range(src.shape[0]):
            dst[j] = (np.float64(src[j]) - offset[j]) / scale[j]


@njit(cache=_CACHE, error_model="numpy")
def squared_deviations(X, mean):
    """sum((X - mean)^2) in float64, row by row (the variance's numerator without a float64 copy of X)."""
    total = 0.0
    for r in range(X.shape[0]):
        row_total = 0.0
        for j in range(X.shape[1]):
            d = np.float64(X[r, j]) - mean
            row_total += d * d
        total += row_total
    return total
