"""DigitNetClassifier: scikit-learn's own estimator checks, pipelines, searches, and the library's accuracy."""

import dataclasses
import inspect

import numpy as np
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

import digitnet
from digitnet import Config, DigitNetClassifier

# The one check that fails, and why (test_subset_invariance_holds_in_float64 shows the reason):
EXPECTED_FAILURES = {
    "check_methods_subset_invariance": (
        "float32 arithmetic (the default dtype): a row's probabilities differ in the 7th significant digit "
        "(1.8e-7 against the check's 1e-7) depending on the batch they are computed in, a compiled loop for up "
        "to 16 rows and BLAS blocks beyond; with dtype='float64' the check passes"
    ),
}


@parametrize_with_checks([DigitNetClassifier(epochs=8)], expected_failed_checks=lambda est: EXPECTED_FAILURES)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_parameters_are_configs_fields_with_its_defaults():
    params = inspect.signature(DigitNetClassifier).parameters
    fields = {f.name: f.default for f in dataclasses.fields(Config)}
    fields["random_state"] = fields.pop("seed")
    assert {name: p.default for name, p in params.items()} == fields


def test_subset_invariance_holds_in_float64():
    from sklearn.utils.estimator_checks import check_methods_subset_invariance

    check_methods_subset_invariance("DigitNetClassifier", DigitNetClassifier(epochs=8, dtype="float64"))
