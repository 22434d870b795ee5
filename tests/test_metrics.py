import numpy as np
import pytest

from digitnet.metrics import blog_labels, blog_score, evaluate, squared_error

P = np.array(
    [
        [0.9, 0.1, 0, 0, 0, 0, 0, 0, 0, 0],  # 0, correct
        [0.5, 0.5, 0, 0, 0, 0, 0, 0, 0, 0],  # nothing rounds to 1: -1 (argmax 0, true 1)
        [0.2, 0.1, 0.7, 0, 0, 0, 0, 0, 0, 0],  # 2, wrong (true 3)
        [np.nan] * 10,  # a diverged network: -1
    ]
)
y = np.array([0, 1, 3, 4])


def test_blog_labels_and_score():
    np.testing.assert_array_equal(blog_labels(P), [0, -1, 2, -1])
    assert blog_score(P, y) == 0.25
    assert squared_error(P[:1], y[:1]) == pytest.approx(0.1**2 + 0.1**2, rel=1e-15)


def test_evaluation_confusion_has_the_no_digit_column():
    e = evaluate(P, y)
    assert e.n == 4 and e.no_digit == 2
    assert e.accuracy == 0.25  # argmax: 0 right, 0 (for 1) wrong, 2 wrong, NaN row wrong
    assert e.confusion.shape == (11, 11) and e.confusion.sum() == 4
    # rows: true label -1..9, columns: the post's label -1..9
    assert e.confusion[1, 1] == 1  # true 0 -> 0
    assert e.confusion[2, 0] == 1  # true 1 -> no digit
    assert e.confusion[4, 3] == 1  # true 3 -> 2
    assert e.confusion[5, 0] == 1  # true 4 -> no digit
    assert e.recall[0] == 1.0 and e.recall[1] == 0.0
    d = e.to_dict()
    assert d["labels"][0] == -1 and d["confusion"][2][0] == 1


def test_a_nan_output_scores_as_wrong_everywhere_and_as_no_digit():
    """A diverged network's NaN rows are wrong answers, never class 0 (argmax of NaN would say 0), and the
    post's rule chooses no digit for them, even when another output of the row rounds to 1."""
    from digitnet.metrics import predicted, scores

    Q = np.array([
        [0.9, 0.1, 0.0],  # 0, right
        [np.nan, np.nan, np.nan],  # true 0: wrong, no digit
        [np.nan, 1.0, 0.0],  # true 1: wrong, no digit (a NaN in the row: the network's answer is undefined)
        [0.0, 0.0, 1.0],  # 2, right
    ])
    t = np.array([0, 0, 1, 2])
    np.testing.assert_array_equal(predicted(Q), [0, -1, -1, 2])
    np.testing.assert_array_equal(blog_labels(Q), [0, -1, -1, 2])
    assert scores(Q, t)["accuracy"] == 0.5
    e = evaluate(Q, t)
    assert e.accuracy == 0.5 and e.no_digit == 2 and e.blog_score == 0.5
    assert e.confusion[1].tolist() == [1, 1, 0, 0] and e.confusion[2].tolist() == [1, 0, 0, 0]  # columns -1, 0, 1, 2
    assert e.recall.tolist() == [0.5, 0.0, 1.0]
    assert scores(np.full((5, 10), np.nan), np.zeros(5, int))["accuracy"] == 0.0  # all class 0: still all wrong
