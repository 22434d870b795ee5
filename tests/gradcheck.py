"""Central finite differences, the reference every analytic gradient is checked against (docs/backprop.md, section 9)."""

import numpy as np

EPS = 1e-6  # float64: truncation ~1e-12, rounding ~1e-10 relative; far below the 1e-7 tolerance
RTOL = 1e-7


def finite_difference(f, x, eps=EPS):
    """d f() / d x for every entry of array x, which is changed in place and restored."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        up = f()
        x[i] = old - eps
        down = f()
        x[i] = old
        grad[i] = (up - down) / (2 * eps)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def assert_close(analytic, numeric, rtol=RTOL):
    error = relative_error(analytic, numeric)
    assert error < rtol, f"relative error {error:.2e}"
