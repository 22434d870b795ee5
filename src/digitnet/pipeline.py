"""The training pipeline: split the data, scale the inputs, fit the network, score it on the held-out split."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from .calibration import calibrated, fit_temperature, logits
from .config import Config
from .data import Dataset, Inputs, Scaling, fit_scaling, load_digits
from .data.dataset import held_out_folds, split_held_out
from .deskew import deskew
from .errors import ConfigError, DataError
from .metrics import predicted, scores
from .model import Model
from .progress import EpochBar
from .trainer import History, Run, Teacher, fit

Watch = Callable[[Model, float], None]  # (the model so far, epochs done): what the Train view streams


def train(
    data: Dataset | None = None,
    config: Config | None = None,
    *,
    callback: Callable[[History], None] | None = None,
    split_indices: tuple[np.ndarray, np.ndarray] | None = None,
    progress: bool | str = False,
    watch: Watch | None = None,
    teacher: Model | Sequence[Model] | None = None,
) -> Model:
    """Split ``data``, scale its inputs, train a network, and score it on the held-out test split.

    The test split is the data set's own when it has one (``data.test_rows``, MNIST's t10k files),
    else a seeded random one of ``config.test_size``, whole writers held out when the rows have writers
    (``data.groups``); joined data sets part by part (:meth:`Dataset.split_rows`). The split, the initial
    weights, the shuffles and the dropout masks all follow ``config.seed``: the same seed gives the same
    model, bit for bit (on the same machine and library builds; see docs/guide/recipes.md).

    Parameters
    ----------
    data : Dataset, optional
        Raw inputs X (n, d) and labels y (n,) in 0..K-1. Default: scikit-learn's 1797 embedded
        8x8 digits (64 pixels 0..16).
    config : Config, optional
        Every setting of the run. Default: ``Config()``, the ``modern`` recipe.
    callback : callable, optional
        Called with the run's :class:`History` after each epoch (the trainer never prints).
    split_indices : (ndarray, ndarray), optional
        (train rows, test rows) replacing the seeded split (cross-validation uses it).
    progress : bool or {"auto", "terminal", "notebook"}
        Show a bar over the epochs: True ("auto") in a Jupyter notebook's output inside a kernel,
        else on stderr; ``callback`` is still called. Default False: nothing is shown.
    watch : callable, optional
        ``watch(model so far, epochs done)`` follows training inside epochs too (see ``trainer.fit``'s
        ``progress``): the model has the live weights (copy what you keep), the history so far and the
        test split, no metrics yet. Raising ``trainer.StopTraining`` there stops training; the model keeps
        what was learnt. Neither it nor ``callback`` changes the result.

    Returns
    -------
    Model
        The trained network with its scaling, history, test rows and ``metrics`` on them
        (``accuracy``, the post's ``blog_score`` and ``squared_error``, ``n_test``). A run that
        diverged returns non-finite weights and ``history.stop_reason == "diverged"``.

    Raises
    ------
    ConfigError
        For a bad ``progress``, or sizes whose training buffers exceed the machine's memory.
    DataError
        When the data cannot be split (a class with too few samples for the test split).
    """
    data = data if data is not None else load_digits()
    config = config if config is not None else Config()
    if split_indices is None:  # an official split (MNIST's t10k files), by writer, or seeded at random
        split_indices = data.split_rows(config.test_size, config.seed, stratify=config.stratify)
    train_idx, test_idx = (np.asarray(i) for i in split_indices)
    with_test = None if watch is None else \
        (lambda model, done: watch(dataclasses.replace(model, test_indices=test_idx), done))
    where = progress if isinstance(progress, str) else "auto"
    with EpochBar(config.epochs, where=where, enabled=bool(progress)) as show:
        each_epoch = show if callback is None else lambda h: (callback(h), show(h))
        model = dataclasses.replace(fit_model(data, config, train_idx, callback=each_epoch, watch=with_test,
                                              teacher=teacher),
                                    test_indices=test_idx)
    with np.errstate(all="ignore"):  # a diverged network's NaN outputs score as wrong
        P = model.predict_proba(data.X[test_idx])
        metrics = scores(P, data.y[test_idx])
        if data.parts is not None:
            metrics["parts"] = _part_accuracies(data, test_idx, P)
    return dataclasses.replace(model, metrics=metrics)


def _part_accuracies(data: Dataset, test_idx: np.ndarray, P: np.ndarray) -> dict[str, float]:
    """A mix's accuracy on each part's test rows, by the part's name ("mnist:DIR", "unipen:FILE", "digits")."""
    bounds = np.cumsum((0, *data.parts))
    names = [f"{p['kind']}:{p['path']}" if p.get("path") else "digits" if p["kind"] == "sklearn-digits" else p["kind"]
             for p in data.source.get("parts", [{"kind": "part"}] * len(data.parts))]
    correct = predicted(P) == data.y[test_idx]  # a NaN row (a diverged network) is wrong
    part = np.searchsorted(bounds, test_idx, side="right") - 1
    return {name: float(correct[part == i].mean()) for i, name in enumerate(names) if np.any(part == i)}


def fit_model(
    data: Dataset, config: Config, rows: np.ndarray | None = None, *, callback: Callable[[History], None] | None = None,
    run: Run | None = None,
    watch: Watch | None = None,
    teacher: Model | Sequence[Model] | None = None,
) -> Model:
    """Fit a network on ``rows`` of ``data`` (default: all of it), less a calibration split when
    ``config.calibration_fraction`` > 0 (the softmax temperature is fitted on it after training) and a
    validation split when ``config.val_fraction`` > 0, each of whole writers where ``data.groups`` knows them
    (:func:`~digitnet.data.dataset.split_held_out`; other rows as before); the inputs are scaled with statistics
    of the rows it fits on. The model has no test split and no test metrics: ``train`` adds them, cross-validation scores it itself.
    With ``config.calibration_folds`` the temperature is cross-fitted instead (:func:`cross_fitted`).
    ``run``: the :class:`~digitnet.trainer.Run` to train (see :func:`~digitnet.trainer.fit`), kept by the caller;
    ``watch``: follows training (see :func:`train`); ``teacher``: the trained model (or models: their logits
    averaged) whose probabilities make up ``config.distill`` of the targets (:func:`teacher_weights`)."""
    train_idx = np.arange(len(data.y)) if rows is None else np.asarray(rows)
    if config.calibration_folds:
        return cross_fitted(data, config, train_idx, callback=callback, run=run, watch=watch, teacher=teacher)
    # whole writers held out where they are known: the temperature (and early stopping) then judge the network on
    # writers it never saw, as a user is; rows without a writer are split as before, row for row
    cal_idx = train_idx[:0]
    if config.calibration_fraction > 0:
        rest, cal = split_held_out(data.y[train_idx], _writers(data, train_idx), config.calibration_fraction,
                                   config.seed, stratify=config.stratify,
                                   parts=f"training and calibration (calibration_fraction {config.calibration_fraction})")
        train_idx, cal_idx = train_idx[rest], train_idx[cal]
    fit_idx, val_idx = train_idx, train_idx[:0]
    if config.val_fraction > 0:
        fit_idx, val_idx = split_held_out(data.y[train_idx], _writers(data, train_idx), config.val_fraction,
                                          config.seed, stratify=config.stratify,
                                          parts=f"training and validation (val_fraction {config.val_fraction})")
        fit_idx, val_idx = train_idx[fit_idx], train_idx[val_idx]
    X = deskewed_inputs(data.X, data.inputs, config)  # what the network reads: the images themselves, or deskewed
    # the post scales with the mean and variance of the whole data set, test split included
    scaling = fit_scaling(X if config.scaling == "blog" else X[fit_idx], config.scaling)

    def so_far(params, history, done):
        watch(Model(params, config, scaling, history, np.empty(0, np.int64), data.source, data.inputs), done)

    params, history = fit(
        scaling.apply(X, config.dtype, fit_idx),  # what fit trains on: no float64 copy of the data
        data.y[fit_idx],
        config,
        np.random.default_rng(config.seed),
        n_classes=data.n_classes,
        X_val=scaling.apply(X, config.dtype, val_idx),
        y_val=data.y[val_idx],
        n_total=len(data.y),
        callback=callback,
        image_shape=data.inputs.image_shape,
        run=run,
        progress=None if watch is None else so_far,
        teacher=None if teacher is None else teacher_weights(teacher, scaling, config, data.inputs, data.n_classes),
    )
    model = Model(params, config, scaling, history, np.empty(0, np.int64), data.source, data.inputs)
    if len(cal_idx) and model.is_finite():  # a diverged network is reported as such, uncalibrated
        model = calibrated(model, data.X[cal_idx], data.y[cal_idx])
    return model


def teacher_weights(teachers: Model | Sequence[Model], scaling: Scaling, config: Config, inputs: Inputs,
                    n_classes: int) -> Teacher:
    """One network (W1, b1, W2, b2) for inputs scaled by ``scaling`` whose logits are the mean of the teachers'
    (each with its own scaling and temperature, :attr:`Model.folded`), in float64.

    A teacher's first layer reads raw x as x @ W1f + b1f; with x = s * x_s + o that is x_s @ (s * W1f) +
    (o @ W1f + b1f). Several teachers side by side: their hidden layers concatenated, each W2 and b2 divided
    by their number, so the output is the mean of their logits (an ensemble, as one network).

    Raises ConfigError when a teacher reads other inputs or answers other classes (:func:`teacher_problem`).
    """
    teachers = [teachers] if isinstance(teachers, Model) else list(teachers)
    layers = []
    for k, teacher in enumerate(teachers):
        problem = teacher_problem(teacher, inputs, config, n_classes)
        if problem:
            raise ConfigError(problem if len(teachers) == 1 else f"teacher {k + 1} of {len(teachers)}: {problem}")
        W1f, b1f, W2, b2 = (w.astype(np.float64) for w in teacher.folded)
        layers.append((scaling.scale[:, None] * W1f, scaling.offset @ W1f + b1f, W2 / len(teachers), b2 / len(teachers)))
    W1, b1, W2, b2 = zip(*layers)
    return np.hstack(W1), np.concatenate(b1), np.vstack(W2), np.sum(b2, axis=0)


def teacher_problem(teacher: Model, inputs: Inputs, config: Config, n_classes: int) -> str | None:
    """Why ``teacher`` cannot teach a network of ``config`` on ``inputs`` with ``n_classes`` classes, or None: it
    must read the same inputs (their number, and deskewed or not) and answer the same classes 0..K-1, in order
    (a scikit-learn estimator's network with other labels cannot)."""
    if teacher.n_inputs != inputs.n_features:
        return (f"the teacher reads {teacher.n_inputs} inputs; this network {inputs.n_features}: use a teacher "
                "trained on the same kind of data")
    if teacher.config.deskew != config.deskew:
        return (f"the teacher {'deskews' if teacher.config.deskew else 'does not deskew'} its inputs and this network "
                f"{'does' if config.deskew else 'does not'}: use a teacher trained with the same deskew setting")
    K = teacher.n_classes
    if K != n_classes or (teacher.classes is not None and [str(c) for c in teacher.classes] != [str(k) for k in range(K)]):
        labels = f"0..{K - 1}" if teacher.classes is None else ", ".join(map(str, teacher.classes[:12]))
        return f"the teacher answers the classes {labels}; this network 0..{n_classes - 1}: use a teacher trained on the same labels"
    return None


def deskewed_inputs(X: np.ndarray, inputs: Inputs, config: Config) -> np.ndarray:
    """Raw training inputs X (n, d), or with ``config.deskew`` every image deskewed (:func:`digitnet.deskew.deskew`;
    float32, a copy made once). DataError when ``inputs`` are not images or X has a negative value (deskewing
    weighs pixels as ink)."""
    if not config.deskew:
        return X
    if inputs.image_shape is None:
        raise DataError(f"deskew straightens images, and these rows are {inputs.n_features} plain values, not an "
                        "image: set deskew false")
    low = float(X.min()) if X.size else 0.0
    if not low >= 0:
        raise DataError(f"deskew weighs pixels as ink, so they must be >= 0 (paper 0); these data go down to {low:g}: "
                        "set deskew false")
    out = deskew(X, inputs.image_shape, np.float32)
    if not np.all(np.isfinite(out)):
        raise DataError(f"deskew: pixels up to {float(np.max(X)):g} leave float32's range once deskewed (training "
                        "keeps them in float32); scale the data down")
    return out


def cross_fitted(data: Dataset, config: Config, rows: np.ndarray, *,
                 callback: Callable[[History], None] | None = None, run: Run | None = None,
                 watch: Watch | None = None, teacher: Model | Sequence[Model] | None = None) -> Model:
    """The network trained on all ``rows``, with the softmax temperature fitted on every row's logits from one
    of ``config.calibration_folds`` networks trained on the other folds (stratified, seeded; a known writer's
    rows all in one fold, :func:`~digitnet.data.dataset.held_out_folds`): no row is held
    out of training, and the network is the one calibration_folds 0 trains, bit for bit; k + 1 fits.
    This is scikit-learn's ``CalibratedClassifierCV(ensemble=False)``, with temperature scaling.
    Ctrl-C during the folds returns the trained network uncalibrated, its stop_reason "interrupted". A
    ``teacher`` teaches every fold (though it may have seen the fold's held-out rows)."""
    plain = dataclasses.replace(config, calibration_folds=0)
    model = dataclasses.replace(fit_model(data, plain, rows, callback=callback, run=run, watch=watch, teacher=teacher),
                                config=config)
    if model.history.stop_reason == "interrupted" or not model.is_finite():
        return model
    k = config.calibration_folds
    folds = held_out_folds(data.y[rows], _writers(data, rows), k, config.seed, stratify=config.stratify,
                           what=f"calibration_folds {k}")
    z = np.empty((len(rows), model.n_classes))
    for fit_part, held in folds:
        fold = fit_model(data, plain, rows[fit_part], teacher=teacher)
        if fold.history.stop_reason == "interrupted":
            return dataclasses.replace(model, history=dataclasses.replace(model.history, stop_reason="interrupted"))
        if not fold.is_finite():
            raise DataError(f"calibration_folds: the network trained on {len(fit_part)} of the {len(rows)} rows "
                            "diverged, so its logits cannot calibrate; lower lr or use calibration_fraction")
        z[held] = logits(fold, data.X[rows[held]])
    return dataclasses.replace(model, temperature=fit_temperature(z, data.y[rows]))


def _writers(data: Dataset, rows: np.ndarray) -> np.ndarray | None:
    """The writers (len(rows),) of ``rows`` of ``data`` (-1: unknown), or None when the data set knows none."""
    return None if data.groups is None else data.groups[rows]
