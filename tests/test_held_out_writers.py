"""Calibration and validation rows held out by WRITER: where a data set knows its rows' writers
(``Dataset.groups``), the temperature is fitted on (and early stopping judged by) writers the network never
trained on; rows without a known writer are split exactly as before."""

import dataclasses

import numpy as np
import pytest

import digitnet
from digitnet import Config
from digitnet.calibration import fit_temperature, logits
from digitnet.data import fit_scaling, split
from digitnet.data.dataset import held_out_folds, split_held_out
from digitnet.pipeline import fit_model

N_WRITERS = 20


def with_writers(data, unknown: int = 0):
    """``data`` with each row given one of N_WRITERS writers (row number mod N_WRITERS); the last ``unknown``
    rows' writers unknown (-1)."""
    groups = np.arange(len(data.y)) % N_WRITERS
    groups[len(groups) - unknown:] = -1
    return dataclasses.replace(data, groups=groups)


@pytest.fixture(scope="module")
def digits():
    return digitnet.load_digits()


def test_split_held_out_keeps_every_writer_on_one_side(digits):
    data = with_writers(digits, unknown=300)
    kept, held = split_held_out(data.y, data.groups, 0.2, 0, stratify=True)
    assert np.array_equal(np.sort(np.concatenate([kept, held])), np.arange(len(data.y)))  # each row once
    known_kept, known_held = (set(data.groups[r][data.groups[r] >= 0]) for r in (kept, held))
    assert not known_kept & known_held and len(known_held) == 4  # 20% of 20 writers, whole
    # the rows of no known writer: split as split() splits them alone
    unknown = np.arange(len(data.y) - 300, len(data.y))
    _, expected = split(data.y[unknown], 0.2, 0, stratify=True)
    assert np.array_equal(np.intersect1d(held, unknown), np.sort(unknown[expected]))


@pytest.mark.parametrize("groups", [None, "unknown"])
def test_split_held_out_without_writers_is_split_row_for_row(digits, groups):
    groups = None if groups is None else np.full(len(digits.y), -1)
    for stratify in (True, False):
        assert all(np.array_equal(a, b) for a, b in zip(split_held_out(digits.y, groups, 0.1, 3, stratify=stratify),
                                                         split(digits.y, 0.1, 3, stratify=stratify)))


def test_split_held_out_needs_two_writers(digits):
    with pytest.raises(digitnet.DataError, match="cannot split the rows of 1 writer into train and test"):
        split_held_out(digits.y, np.zeros(len(digits.y), int), 0.1, 0, stratify=True)


def test_held_out_folds_put_a_writer_in_one_fold_and_match_stratified_k_fold_without_writers(digits):
    from sklearn.model_selection import StratifiedKFold

    data = with_writers(digits)
    folds = held_out_folds(data.y, data.groups, 5, 0, stratify=True)
    assert np.array_equal(np.sort(np.concatenate([h for _, h in folds])), np.arange(len(data.y)))
    assert [len(set(data.groups[h])) for _, h in folds] == [4] * 5  # 20 writers, 4 whole ones a fold
    expected = StratifiedKFold(5, shuffle=True, random_state=0).split(digits.y, digits.y)
    for (kept, held), (k, h) in zip(held_out_folds(digits.y, None, 5, 0, stratify=True), expected):
        assert np.array_equal(kept, k) and np.array_equal(held, h)
    with pytest.raises(digitnet.DataError, match="cannot cut 1797 samples into calibration_folds 5: 3 writers"):
        held_out_folds(data.y, data.groups % 3, 5, 0, stratify=True, what="calibration_folds 5")


@pytest.mark.parametrize("writers", [True, False])
def test_the_temperature_is_fitted_on_held_out_writers(digits, writers):
    data = with_writers(digits) if writers else digits
    config = Config.from_recipe("modern", epochs=2, calibration_fraction=0.2, seed=0)
    model = fit_model(data, config)
    if writers:
        kept, cal = split_held_out(data.y, data.groups, 0.2, 0, stratify=True)
        assert len(set(data.groups[cal])) == 4 and not set(data.groups[cal]) & set(data.groups[kept])
    else:
        kept, cal = split(data.y, 0.2, 0, stratify=True)
    # trained on the other rows (the scaling's statistics are theirs), calibrated on these
    assert np.array_equal(model.scaling.offset, fit_scaling(data.X[kept], config.scaling).offset)
    assert model.temperature == fit_temperature(logits(model, data.X[cal]), data.y[cal]) != 1.0


def test_the_validation_split_holds_out_whole_writers(digits):
    data = with_writers(digits)
    config = Config.from_recipe("modern", epochs=2, val_fraction=0.2, seed=0)
    fit_rows, _ = split_held_out(data.y, data.groups, 0.2, 0, stratify=True)
    assert np.array_equal(fit_model(data, config).scaling.offset, fit_scaling(data.X[fit_rows], config.scaling).offset)


def test_cross_fitted_temperature_holds_each_writer_out_of_its_fold(digits):
    data = with_writers(digits)
    config = Config.from_recipe("modern", epochs=2, seed=0)
    model = fit_model(data, dataclasses.replace(config, calibration_folds=2))
    z = np.empty((len(data.y), 10))
    for kept, held in held_out_folds(data.y, data.groups, 2, 0, stratify=True):
        z[held] = logits(fit_model(data, config, kept), data.X[held])
    assert model.temperature == fit_temperature(z, data.y)
