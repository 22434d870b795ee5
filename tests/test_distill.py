"""Knowledge distillation (Config.distill, a teacher network): the compiled epoch against its NumPy reference,
the targets' formula, the teacher's weights carried into the student's scaled inputs, what the student learns
from it, and the one-line errors."""

import numpy as np
import pytest

import digitnet
from digitnet import Config, ConfigError
from digitnet.fast import kernels
from digitnet.pipeline import teacher_weights
from digitnet.trainer import Run, distilled

WARPS = dict(rotation=10.0, shear=15.0, zoom=0.1, stroke=0.5, elastic_alpha=2.0, elastic_sigma=1.0)


@pytest.fixture(scope="module")
def train_split():
    data = digitnet.load_digits()
    X = (data.X[:600] - 4.9) / 6.0
    return X, data.y[:600]


@pytest.fixture(scope="module")
def teacher():
    """A trained 64-300-10 network and the data it was trained on."""
    data = digitnet.load_digits()
    return digitnet.train(data, Config(n_hidden=300, epochs=8, seed=5)), data


def random_teacher(rng, d=64, H=30, K=10, dtype="float64"):
    return (rng.standard_normal((d, H)).astype(dtype) * 0.3, rng.standard_normal(H).astype(dtype),
            rng.standard_normal((H, K)).astype(dtype), rng.standard_normal(K).astype(dtype))


def test_the_targets_are_the_formula():
    """(1 - a) y + a softmax(z / T), z = tanh(x W1 + b1) W2 + b2, in the kernel and in the reference."""
    rng = np.random.default_rng(0)
    W1, b1, W2, b2 = random_teacher(rng)
    X, Y = rng.standard_normal((7, 64)), np.eye(10)[rng.integers(0, 10, 7)]
    config = Config(distill=0.7, distill_temperature=2.5)
    z = (np.tanh(X @ W1 + b1) @ W2 + b2) / 2.5
    q = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    expected = 0.3 * Y + 0.7 * q
    np.testing.assert_allclose(distilled(Y, X, (W1, b1, W2, b2), config), expected, rtol=1e-12)
    compiled = Y.copy()
    kernels.distill_targets(X, W1, b1, W2, b2, np.empty((7, 30)), np.empty((7, 10)), 0.7, 1 / 2.5, compiled)
    np.testing.assert_allclose(compiled, expected, rtol=1e-12)
    np.testing.assert_allclose(compiled.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("dropout", [0.0, 0.25])
def test_the_compiled_epoch_is_its_reference(train_split, dropout):
    """kernels.batch_epoch with a teacher takes the steps the NumPy path takes (the teacher reads each batch as
    distorted): the same weights, up to rounding, after two epochs."""
    X, y = train_split
    teacher = random_teacher(np.random.default_rng(1))
    config = Config(epochs=2, batch_size=64, dtype="float64", dropout=dropout, distill=0.6, distill_temperature=2.0,
                    **WARPS)
    runs = [Run(64, 10, config, np.random.default_rng(2), plain=plain, image_shape=(8, 8), teacher=teacher)
            for plain in (False, True)]
    sums = [[run.epoch(X, run.targets(y), y) for _ in range(2)] for run in runs]
    np.testing.assert_allclose(runs[0].theta, runs[1].theta, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.array(sums[0])[:, 0], np.array(sums[1])[:, 0], rtol=1e-10)
    without = Run(64, 10, Config(epochs=2, batch_size=64, dtype="float64", dropout=dropout, **WARPS),
                  np.random.default_rng(2), image_shape=(8, 8))
    for _ in range(2):
        without.epoch(X, without.targets(y), y)
    assert np.abs(without.theta - runs[0].theta).max() > 1e-3  # the teacher changed the steps


def test_the_teacher_reads_the_students_scaled_inputs(teacher):
    """teacher_weights folds the teacher's scaling and temperature into weights for the student's scaled inputs:
    its probabilities there are the teacher model's on the raw inputs."""
    model, data = teacher
    scaling = digitnet.data.fit_scaling(data.X[:900], "standard")  # another scaling than the teacher's own
    W1, b1, W2, b2 = teacher_weights(model, scaling, Config(), data.inputs, 10)
    Xs = scaling.apply(data.X, "float64")
    z = np.tanh(Xs @ W1 + b1) @ W2 + b2
    q = np.exp(z - z.max(axis=1, keepdims=True))
    np.testing.assert_allclose(q / q.sum(axis=1, keepdims=True), model.predict_proba(data.X), atol=1e-5)


def test_the_student_learns_the_teachers_probabilities(teacher):
    """distill 1 trains on the teacher's probabilities alone: the student's probabilities come far closer to the
    teacher's (mean KL divergence on the test split) than the same network trained on the labels."""
    model, data = teacher
    train, test = np.setdiff1d(np.arange(len(data.y)), model.test_indices), model.test_indices

    def kl(student):
        p, q = model.predict_proba(data.X[test]).astype(np.float64), student.predict_proba(data.X[test])
        return float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))

    base = Config(epochs=16, label_smoothing=0.0, seed=6)
    labels = digitnet.train(data, base, split_indices=(train, test))
    student = digitnet.train(data, Config(epochs=16, label_smoothing=0.0, seed=6, distill=1.0),
                             split_indices=(train, test), teacher=model)
    assert kl(student) < 0.5 * kl(labels)
    assert student.metrics["accuracy"] > 0.95


def test_a_teacher_and_distill_come_together(train_split):
    X, y = train_split
    with pytest.raises(ConfigError, match="^distill needs a teacher network, and a teacher needs distill > 0"):
        Run(64, 10, Config(distill=0.5), np.random.default_rng(0))
    with pytest.raises(ConfigError, match="^distill needs a teacher network"):
        Run(64, 10, Config(), np.random.default_rng(0), teacher=random_teacher(np.random.default_rng(0)))
    with pytest.raises(ConfigError, match="^the teacher network reads 30 inputs into 10 classes; this one 64 into 10"):
        Run(64, 10, Config(distill=0.5), np.random.default_rng(0), teacher=random_teacher(np.random.default_rng(0), d=30))


def test_a_teacher_of_other_inputs_or_labels_is_refused(teacher, train_split, tmp_path):
    model, data = teacher
    with pytest.raises(ConfigError, match="^the teacher does not deskew its inputs and this network does: use a teacher trained with the same deskew setting$"):
        digitnet.train(data, Config(epochs=1, distill=0.5, deskew=True), teacher=model)
    with pytest.raises(ConfigError, match="^teacher 2 of 2: the teacher does not deskew its inputs and this network does"):
        digitnet.train(data, Config(epochs=1, distill=0.5, deskew=True),
                       teacher=[digitnet.train(data, Config(epochs=1, deskew=True)), model])
    # a scikit-learn estimator's network answers its own labels, in their order: not this network's digits
    from digitnet.estimator import DigitNetClassifier

    from digitnet.persistence import load_model

    X, y = train_split
    digitnet.save(DigitNetClassifier(epochs=1).fit(X, np.array(list("abcdefghij"))[y]), tmp_path / "letters.safetensors")
    letters = load_model(tmp_path / "letters.safetensors")  # the file gives the estimator's labels
    with pytest.raises(ConfigError, match="^the teacher answers the classes a, b, c, d, e, f, g, h, i, j; this network "
                                          "0..9: use a teacher trained on the same labels$"):
        digitnet.train(data, Config(epochs=1, distill=0.5), teacher=letters)
    digitnet.save(DigitNetClassifier(epochs=1).fit(X[:, :16], y), tmp_path / "narrow.safetensors")
    with pytest.raises(ConfigError, match="^the teacher reads 16 inputs; this network 64: use a teacher trained on the "
                                          "same kind of data$"):
        digitnet.train(data, Config(epochs=1, distill=0.5), teacher=load_model(tmp_path / "narrow.safetensors"))
    digitnet.save(DigitNetClassifier(epochs=1).fit(X, y), tmp_path / "digits.safetensors")
    digits = load_model(tmp_path / "digits.safetensors")  # labels 0..9: the same classes
    assert digitnet.train(data, Config(epochs=1, distill=0.5), teacher=digits).history.epochs == 1


@pytest.mark.parametrize("overrides, message", [
    ({"distill": 1.5}, "distill must be in [0, 1]; got 1.5"),
    ({"distill": -0.1}, "distill must be in [0, 1]; got -0.1"),
    ({"distill": 0.5, "distill_temperature": 0.0}, "distill_temperature must be in [0.01, 100]; got 0.0"),
    ({"distill": 0.5, "distill_temperature": 1e-38}, "distill_temperature must be in [0.01, 100]; got 1e-38"),
    ({"distill_temperature": 2.0}, "distill_temperature softens a teacher's probabilities, which count only with "
                                   "distill above 0: set distill (with a teacher), or leave distill_temperature 1"),
])
def test_bad_settings_name_the_value(overrides, message):
    with pytest.raises(ConfigError) as e:
        Config(**overrides)
    assert str(e.value) == message


def test_several_teachers_are_one_network_of_their_mean_logits(teacher):
    """Two teachers side by side: the probabilities of the network teacher_weights builds are the softmax of
    the mean of their logits (each with its own temperature)."""
    model, data = teacher
    other = digitnet.train(data, Config(n_hidden=50, epochs=4, seed=9))
    scaling = digitnet.data.fit_scaling(data.X, "standard")
    W1, b1, W2, b2 = teacher_weights([model, other], scaling, Config(), data.inputs, 10)
    assert W1.shape == (64, 350) and W2.shape == (350, 10)
    z = np.tanh(scaling.apply(data.X, "float64") @ W1 + b1) @ W2 + b2
    mean = sum(np.log(m.predict_proba(data.X).astype(np.float64)) for m in (model, other)) / 2
    q, p = np.exp(z - z.max(axis=1, keepdims=True)), np.exp(mean - mean.max(axis=1, keepdims=True))
    np.testing.assert_allclose(q / q.sum(axis=1, keepdims=True), p / p.sum(axis=1, keepdims=True), atol=1e-5)


def test_the_cli_trains_a_student_and_records_its_teachers(tmp_path):
    from typer.testing import CliRunner

    from digitnet.cli import app

    def cli(*args):
        return CliRunner().invoke(app, [str(a) for a in args])

    teacher = tmp_path / "teacher.safetensors"
    assert cli("train", "--epochs", "3", "--hidden", "300", "--out", teacher, "-q").exit_code == 0
    student = tmp_path / "student.safetensors"
    r = cli("train", "--epochs", "3", "--set", "distill=0.5", "--teacher", teacher, "--teacher", teacher,
            "--out", student, "-q")
    assert r.exit_code == 0, r.output
    model = digitnet.load(student)
    assert model.config.distill == 0.5 and model.params["W1"].shape == (64, 200)
    assert model.command.endswith(f"--set distill=0.5 --teacher {teacher} --teacher {teacher}")
    assert model.metrics["accuracy"] > 0.9
    before = student.read_bytes()
    deskewing = tmp_path / "deskewing.safetensors"
    assert cli("train", "--epochs", "1", "--set", "deskew=true", "--out", deskewing, "-q").exit_code == 0
    for args, message in [
        (("--set", "distill=0.5"), "--set distill needs a teacher to learn from: add --teacher MODEL"),
        (("--teacher", teacher), "--teacher needs --set distill=SHARE above 0"),
        (("--teacher", teacher, "--set", "distill=0"), "distill 0 turns them off: drop --teacher"),
        (("--teacher", "", "--set", "distill=0.5"), "--teacher needs the path of a model file"),
        (("--teacher", teacher, "--teacher", deskewing, "--set", "distill=0.5"),
         f"--teacher {deskewing}: the teacher deskews its inputs and this network does not: use a teacher"),
        (("--set", "distill=0.5", "--teacher", tmp_path / "none.safetensors"),
         f"--teacher {tmp_path / 'none.safetensors'}: no such model file"),
        (("--set", "distill=0.5", "--teacher", student), "is the same file as --teacher"),
    ]:
        r = cli("train", "--epochs", "1", *args, "--out", student)  # not quiet: refused before "Training ..."
        assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output, r.output
        assert "Training" not in r.output
    assert student.read_bytes() == before


def test_the_estimator_says_it_takes_no_teacher(train_split):
    from digitnet.estimator import DigitNetClassifier

    X, y = train_split
    with pytest.raises(ConfigError, match="^distill learns from a teacher network, which DigitNetClassifier does not"):
        DigitNetClassifier(distill=0.5, epochs=1).fit(X, y)


def test_a_sweep_takes_no_teacher():
    from digitnet.sweep import parse_grid

    for name in ("distill", "distill_temperature"):
        with pytest.raises(ConfigError, match=f"^grid: {name} needs a teacher network, which a sweep does not take"):
            parse_grid(f"{name}=0,0.5 epochs=1")


def test_the_posts_rule_takes_no_teacher():
    with pytest.raises(ConfigError, match=r"set distill to 0 \(no teacher\), or use gradient 'exact'"):
        Config.from_recipe("blog", distill=0.5)


def test_calibration_folds_are_taught_too(teacher):
    """With calibration_folds every fold's network learns from the teacher as the final one does."""
    model, data = teacher
    student = digitnet.train(data, Config(epochs=3, distill=0.5, calibration_folds=2), teacher=model)
    assert student.temperature != 1 and student.metrics["accuracy"] > 0.9
