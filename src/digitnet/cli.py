"""The ``digitnet`` command: translates arguments into library calls and errors into messages.

Results go to stdout (one JSON object with ``--json``); progress and messages go to stderr.
Bad input exits with code 2, a diverged run with 1, an interrupted one with 130 (a server stopped by
SIGTERM: 143, once its training worker has stopped).
"""

import contextlib
import dataclasses
import enum
import errno
import functools
import io
import json
import math
import re
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, NoReturn

import numpy as np
import typer
from typer.core import TyperGroup
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

try:
    from typer import _click as click  # newer typer vendors click
except ImportError:  # pragma: no cover
    import click

from ._version import __version__
from .config import AUTO_RECIPE, MNIST_MIN_ROWS, RECIPES, Config, recipe_for, train_command
from .data import OPTDIGITS, Inputs, is_number, read_csv
from .data import held_out, load_data
from .data.sources import input_files, recorded_files
from .errors import (ConfigError, DataError, DigitnetError, DivergedError, NoTestDataError, OutputFileError, article,
                     one_line)
from .experiments import PUBLISHED, BlogRun, reproduce_blog, summarise
from .answer import BLANK_PICTURE, RULES, answers, blank_reason, no_variation
from .jobs import LimitError, Limits, Runner
from .metrics import ECE_BINS, NO_DIGIT, Evaluation
from .model import Model
from .pipeline import teacher_problem
from .pipeline import train as train_model
from .progress import EpochBar
from .files import check_distinct, check_writable, open_regular, write_all, write_atomic
from .persistence import file_bytes, json_safe, load_model, save, to_bytes
from .trainer import DIVERGED_ABOVE, STOP_REASONS, History

# auto, then the recipes: auto (the default) chooses one from the data (config.recipe_for)
Recipe = enum.Enum("Recipe", {name: name for name in (AUTO_RECIPE, *RECIPES)}, type=str)  # type: ignore[misc]
RECIPE_HELP = (f"Settings to start from: {AUTO_RECIPE} (mnist for 28x28 images of {MNIST_MIN_ROWS:,} rows or more, "
               "modern otherwise), modern, mnist (28x28 images, 60,000 of them), mnist-elastic (mnist with elastic "
               "distortions and rotations, deskewed, Nesterov momentum, calibrated, 300 epochs), the post's (blog), or the post's with the exact gradient.")


AnswerRule = enum.Enum("AnswerRule", {name: name for name in RULES}, type=str)  # type: ignore[misc]


class DropoutChoice(str, enum.Enum):
    on = "on"
    off = "off"
    both = "both"


class _OneLineErrors(TyperGroup):
    """Every way a command can fail ends in one line on stderr and an exit code, never a usage box or a traceback:
    a bad argument (click's usage errors) exits 2, Ctrl-C 130, running out of memory 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as e:
            err.print(e.format_message(), markup=False)
            code = EXIT_BAD_INPUT
        except click.ClickException as e:
            err.print(f"error: {one_line(_usage_message(e))}", markup=False)
            code = EXIT_BAD_INPUT
        except (typer.Abort, KeyboardInterrupt):
            err.print("interrupted: nothing was written", markup=False)
            code = EXIT_INTERRUPTED
        except MemoryError:  # outside a command (each says what to make smaller: translate_errors)
            err.print("error: out of memory: use less data or smaller settings", markup=False)
            code = EXIT_BAD_INPUT
        if standalone_mode:
            sys.exit(code or 0)
        return code


def _usage_message(e: click.ClickException) -> str:
    """click's message on one line, with where to look for the right form."""
    text = " ".join(e.format_message().split())
    ctx = getattr(e, "ctx", None)
    if ctx is not None:
        text += f" (see '{ctx.command_path} --help')"
    return text


HELP = ("Recognise handwritten digits (8x8 or 28x28 images, or any features) with a three-layer neural network "
        "written in NumPy.")
app = typer.Typer(
    cls=_OneLineErrors,
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain text: "digitnet[web]" is an extra's name, not Rich markup
)
# Nothing printed is Rich markup: class labels, file names and recipe names come from model files and file systems,
# and "[/]" in one would stop the command with a MarkupError. Piped output is not cut to 80 columns: tables stay
# whole in files and pipes.
out = Console(highlight=False, soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True, markup=False)

FLAGS = {"n_hidden": "--hidden", "batch_size": "--batch-size", "n_iter": "--n-iter"}  # names whose option differs
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM  # serve stopped by SIGTERM (kill), having stopped its training worker


def _by_recipe(field: str) -> str:
    """The recipes' defaults for ``field``, for help texts, read from the one table that defines them."""
    return "default by recipe: " + ", ".join(f"{name} {getattr(c, field)}" for name, c in RECIPES.items())


# what to make smaller when a command runs out of memory: only what that command has options for
_LESS_DATA = "the data are too large for this machine's memory; score the model on less data (--data)"
OUT_OF_MEMORY = {
    "train": "use smaller sizes (--hidden, --batch-size) or less data",
    "sweep": "use smaller sizes in --grid (hidden, batch-size), fewer --n-jobs, or less data",
    "reproduce_blog_command": "run fewer at once (--jobs)",
    "evaluate": _LESS_DATA, "plot": _LESS_DATA, "report": _LESS_DATA,
    "predict": "predict fewer rows at a time (split the --csv file)",
    "export": "the model is too large for this machine's memory",
    "serve": "serve fewer or smaller models, or give the Train view less data (--data, --max-train-samples)",
    None: "use less data or smaller settings",
}


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print one line (names with control characters escaped: the one place they are) and exit with ``code``."""
    message = one_line(message)
    err.print(message if code in (EXIT_INTERRUPTED, EXIT_TERMINATED) else f"error: {message}", markup=False)
    raise typer.Exit(code)


def translate_errors(command: Callable) -> Callable:
    """Library errors become one line on stderr and exit code 2; Ctrl-C one line and 130."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except NoTestDataError as e:
            fail(f"{e}; pass --data FILE")
        except DivergedError as e:
            fail(str(e), EXIT_DIVERGED)
        except MemoryError:
            fail(f"out of memory: {OUT_OF_MEMORY.get(command.__name__, OUT_OF_MEMORY[None])}")
        except ConfigError as e:
            field = str(e).split(" ", 1)[0]
            fail(str(e).replace(field, f"{field} ({FLAGS[field]})", 1) if field in FLAGS else str(e))
        except DigitnetError as e:
            fail(str(e))
        except KeyboardInterrupt:  # files are written atomically: an interrupted write leaves nothing
            fail("interrupted: nothing was written", EXIT_INTERRUPTED)

    return wrapper


class _CtrlC:
    """SIGINT, once the command runs: stop now (KeyboardInterrupt), except while a file is being written,
    when the stop waits until the file is whole. ``pressed`` stays set, so an interrupt that a library
    swallowed (numba compiling, say) still stops training at the end of the epoch."""

    def __init__(self) -> None:
        self.pressed = False
        self.deferring = False

    def install(self) -> None:
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.pressed = True
        if not self.deferring:
            raise KeyboardInterrupt

    def check(self) -> None:
        if self.pressed:
            raise KeyboardInterrupt


ctrl_c = _CtrlC()


def _dumps(value: object) -> str:
    """JSON that always parses: NaN and inf become null."""
    return json.dumps(json_safe(value), allow_nan=False)


def _version(value: bool) -> None:
    if value:
        out.print(f"digitnet {__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    """Recognise handwritten digits (8x8 or 28x28 images, or any features) with a three-layer neural network
    written in NumPy."""


ModelArgument = Annotated[Path, typer.Argument(metavar="MODEL", help="Model file written by `digitnet train`.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout and nothing else.")]
DATA_HELP = ("A CSV in the UCI optdigits layout (64 pixels 0..16, then the label 0..9); mnist:DIR (MNIST's IDX "
             "files, official test split); images:DIR or images8:DIR (one sub-folder of PNG/JPEG/TIFF per class, "
             "made 28x28 or 8x8); unipen:FILE[.gz] or unipen8:FILE (pen strokes, drawn as the page draws them); "
             "digits (the embedded 8x8 digits, the default).")
def _one_data(value: list[str] | None) -> list[str] | None:
    """--data of a command that reads one data set: given twice, one line instead of the last one silently
    (the command takes ``_the(data)``)."""
    if value and len(value) > 1:
        fail(f"--data is given {len(value)} times, and this command reads one data set: give it once "
             "(train and sweep join several)")
    return value


def _the(data: list[str] | None) -> str | None:
    return data[0] if data else None


DataOption = Annotated[list[str] | None, typer.Option("--data", metavar="DATA", help=DATA_HELP, callback=_one_data)]
DataListOption = Annotated[list[str] | None, typer.Option(
    "--data", metavar="DATA", help=DATA_HELP + " Repeat it to train on several at once, in the first one's input "
                                   "shape (e.g. --data mnist:DIR --data unipen:FILE --data digits).")]


@app.command(epilog="Example: digitnet train --recipe blog --dropout 0 --seed 3 --out blog.safetensors")
@translate_errors
def train(
    recipe: Annotated[Recipe, typer.Option(help=RECIPE_HELP)] = Recipe(AUTO_RECIPE),
    hidden: Annotated[int | None, typer.Option(help=f"Hidden neurons ({_by_recipe('n_hidden')}).")] = None,
    dropout: Annotated[float | None, typer.Option(help=f"Fraction of hidden neurons dropped in training ({_by_recipe('dropout')}).")] = None,
    epochs: Annotated[int | None, typer.Option(help=f"Maximum epochs ({_by_recipe('epochs')}).")] = None,
    lr: Annotated[float | None, typer.Option(help=f"Learning rate ({_by_recipe('lr')}).")] = None,
    batch_size: Annotated[int | None, typer.Option(help=f"Samples per step ({_by_recipe('batch_size')}).")] = None,
    seed: Annotated[int | None, typer.Option(help=f"Seed of the split, weights, shuffles and dropout (default {Config.seed}).")] = None,
    augment: Annotated[int | None, typer.Option(
        metavar="PIXELS", help=f"Move each training image by up to PIXELS pixels each way, anew every epoch "
                               f"({_by_recipe('augment')}).")] = None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", metavar="NAME=VALUE",
        help="Any other setting of the recipe, e.g. --set l2=0 --set patience=none (repeatable; the names: docs or Config).",
    )] = None,
    data: DataListOption = None,
    teachers: Annotated[list[Path] | None, typer.Option(
        "--teacher", metavar="MODEL",
        help="A trained model whose probabilities on each training batch make up the share distill of the targets "
             "(knowledge distillation; needs --set distill=SHARE). Repeat it for several: their mean logits.",
    )] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Model file to write.")] = Path("model.safetensors"),
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Train a network, score it on its held-out test split, and write the model file."""
    given = dict(n_hidden=hidden, dropout=dropout, epochs=epochs, lr=lr, batch_size=batch_size, seed=seed, augment=augment)
    given = {k: v for k, v in given.items() if v is not None}
    by_option = set(given)  # what the options above set (--set may not set it again)
    for item in settings or []:
        name, sep, text = item.partition("=")
        name = name.strip()
        if not sep:
            fail(f"--set {item!r}: expected NAME=VALUE, e.g. --set l2=0")
        if name == "recipe":
            fail("choose the recipe with --recipe; --set changes the recipe's settings")
        if name in given:
            also = f"{FLAGS.get(name, '--' + name)} or another --set" if name in by_option else "another --set"
            fail(f"{name} is set twice (--set {name}=... and {also})")
        given[name] = Config.parse(name, text)
    auto = recipe.value == AUTO_RECIPE
    config = Config.from_recipe("modern" if auto else recipe.value, **given)  # the options checked before any reading
    if bool(teachers) != (config.distill > 0):
        fail(("--teacher needs --set distill=SHARE above 0, the share of each target the teachers give (e.g. 0.5); "
              "distill 0 turns them off: drop --teacher") if teachers
             else "--set distill needs a teacher to learn from: add --teacher MODEL")
    if any(str(path) in ("", ".") for path in teachers or []):
        fail("--teacher needs the path of a model file (digitnet train --out writes one)")
    check_writable(out_path)
    check_distinct([("--out", out_path)], _data_inputs(data) + [("--teacher", path) for path in teachers or []])
    teacher_models = []
    for path in teachers or []:
        try:
            teacher_models.append(load_model(path))
        except DigitnetError as e:
            fail(f"--teacher {e}")
    dataset = load_data(data)
    chosen = ""
    if auto:
        config = Config.from_recipe(recipe_for(dataset.inputs.image_shape, len(dataset.y)), **given)
        chosen = f" (--recipe auto's choice for {_data_shape(dataset)}; --recipe NAME to choose)"
    for path, teacher in zip(teachers or [], teacher_models):  # before training: a mismatch is told at once
        problem = teacher_problem(teacher, dataset.inputs, config, dataset.n_classes)
        if problem:
            fail(f"--teacher {path}: {problem}")
    if not quiet:
        err.print(f"Training '{config.recipe}'{chosen} on {len(dataset.y)} digits; Ctrl-C stops and keeps what was learnt.",
                  markup=False)
    with EpochBar(config.epochs, where="terminal", console=err, enabled=not quiet) as show:
        def callback(h: History) -> None:
            ctrl_c.check()  # a Ctrl-C that a library swallowed mid-epoch stops training here
            show(h)

        model = train_model(dataset, config, callback=callback, teacher=teacher_models or None)
    model = dataclasses.replace(model, command=train_command(config, data, teachers))  # recorded in the file: what trains it again
    h = model.history
    if h.stop_reason == "interrupted" and h.epochs == 0:
        unchanged = f"; {out_path} is unchanged" if out_path.exists() else ""
        fail(f"interrupted before the first epoch ended: nothing was learnt, nothing written{unchanged}", EXIT_INTERRUPTED)
    written = None
    if model.is_finite() and h.stop_reason != "diverged":
        ctrl_c.deferring = True  # Ctrl-C now waits until the file is whole
        try:
            written = save(model, out_path)
        except OutputFileError as e:
            fail(f"{e}. The trained model (test accuracy {model.metrics['accuracy']:.2%}) was not saved; "
                 "run the same command again once it can be written: the same seed gives the same model")
        finally:
            ctrl_c.deferring = False
    summary = {
        "recipe": config.recipe,
        "recipe_chosen_by": AUTO_RECIPE if auto else "--recipe",
        "epochs": h.epochs,
        "stop_reason": h.stop_reason,
        "best_epoch": h.best_epoch,
        "test": model.metrics,
        "temperature": model.temperature,
        "model": str(written) if written else None,
        "config": config.to_dict(),
    }
    if as_json:
        sys.stdout.write(_dumps(summary) + "\n")
    else:
        _print_train_summary(model, written, chosen)
    if written is None:
        loss = h.loss[-1] if h.loss else math.nan
        why = (f"its loss ended at {loss:.3g}, over {DIVERGED_ABOVE:g} times a uniform guess's" if math.isfinite(loss)
               else "loss is NaN or infinite")
        fail(f"training diverged at epoch {h.epochs} ({why}); no model written. "
             "Lower the learning rate (--lr) or turn dropout off (--dropout 0).", EXIT_DIVERGED)
    if h.stop_reason == "interrupted":
        fail(f"interrupted: the model learnt so far is in {written}", EXIT_INTERRUPTED)
    if ctrl_c.pressed:
        fail(f"interrupted while saving: the complete model is in {written}", EXIT_INTERRUPTED)


@app.command(epilog="Example: digitnet evaluate model.safetensors --json")
@translate_errors
def evaluate(
    model_path: ModelArgument,
    data: DataOption = None,
    as_json: JsonOption = False,
) -> None:
    """Score a model: accuracy, the post's score, calibration error, confusion matrix, per-class recall.

    Without --data, scores the model's own held-out test split, never data it trained on.
    """
    data = _the(data)
    model = load_model(model_path)
    X, y, where = held_out(model, data)
    scores = model.evaluate(X, y)
    if as_json:
        sys.stdout.write(_dumps({**scores.to_dict(), "temperature": model.temperature, "data": where,
                                 "command": model.command}) + "\n")
        return
    _print_evaluation(scores, where)
    if model.temperature != 1:
        out.print(f"Probabilities calibrated on held-out training digits: softmax temperature {model.temperature:.4g}.",
                  markup=False)
    if model.command:  # from the file: untrusted, so control characters are shown escaped, never sent to the terminal
        out.print(f"Trained by: {one_line(model.command)}", markup=False, soft_wrap=True)


@app.command(epilog='Example: digitnet predict model.safetensors --pixels "0,0,5,13,9,1,0,0,..." (64 values 0..16)')
@translate_errors
def predict(
    model_path: Annotated[Path | None, typer.Argument(
        metavar="MODEL", show_default=False,
        help="Model file written by `digitnet train`; default: the drawing model shipped with digitnet.")] = None,
    csv: Annotated[Path | None, typer.Option("--csv", help="CSV of the model's pixels per row (an 8x8 model: 64 values 0..16; the drawing "
                                                      "model: 784 values 0..255), optionally then a label (ignored).")] = None,
    labels: Annotated[bool | None, typer.Option(
        "--labels/--no-labels",
        help="Whether the CSV's last column is a label (default: one column more than the model's pixels is one).")] = None,
    pixels: Annotated[str | None, typer.Option("--pixels", help="One image: the model's pixels (an 8x8 model: 64 values 0..16; the "
                                                                "drawing model: 784 values 0..255), comma-separated, row by row.")] = None,
    images: Annotated[list[Path] | None, typer.Option(
        "--image", help="A PNG, JPEG or TIFF picture of a digit, preprocessed as the drawing page does (repeatable: "
                  "a picture that cannot be read is said so, the others are still answered, and the exit code is 2).")] = None,
    rule: Annotated[AnswerRule, typer.Option(
        help="likeliest: the likeliest digit, with those nearly as probable, and \"no digit\" (-1) only when no digit "
             "is probable; blog: the post's rule, a digit only when its probability rounds to 1.")] = AnswerRule("likeliest"),
    as_json: JsonOption = False,
) -> None:
    """Predict digits: the likeliest, with the others nearly as probable ("7, or perhaps 1"); "no digit" (-1) when
    nothing is a probable digit. --rule blog chooses a digit only when its probability rounds to 1, as in the post."""
    if sum(x is not None for x in (csv, pixels, images)) != 1:
        fail("give exactly one of --csv FILE, --pixels \"v1,v2,...,v64\" or --image FILE")
    if labels is not None and csv is None:
        fail("--labels/--no-labels describe a --csv file")
    model = load_model(model_path) if model_path is not None else _shipped_model()
    if csv is not None:
        try:
            X, y = read_csv(csv, labels=labels, inputs=model.inputs, n_classes=model.n_classes)
        except DataError as e:
            fail(_csv_shape_advice(str(e), model, model_path is None))
        if labels is None:
            layout = "then a label column (ignored)" if y is not None else "no label column"
            err.print(one_line(f"{csv}: read {len(X)} rows of {X.shape[1]} {model.inputs.noun}, {layout}; "
                               "--labels/--no-labels says which"), markup=False)
    elif pixels is not None:
        X = _parse_pixels(pixels, model.inputs)
    else:
        # One unreadable picture does not lose the others' answers: each is said on stderr and in its row, and the
        # command exits 2 after answering the rest (so a script still notices).
        inputs, unread = [], {}
        for i, path in enumerate(images):
            try:
                inputs.append(_picture_input(path, model.inputs))
            except DataError as e:
                unread[i] = str(e)
                inputs.append(None)
        for message in unread.values():
            err.print(f"error: {one_line(message)}", markup=False)
        if len(unread) == len(images) and not as_json:  # nothing to answer: the errors alone (--json: rows of them)
            raise typer.Exit(EXIT_BAD_INPUT)
        no_ink = np.array([x is None for x in inputs])  # no digit found (or not read): the model not asked
        X = np.stack([np.zeros(model.n_inputs) if x is None else x for x in inputs])
    P = model.predict_proba(X)
    chosen, alternatives = answers(P, rule.value, X)
    reasons = {int(i): blank_reason(X[i]) for i in np.flatnonzero(no_variation(X))}  # no digit, whatever P says
    if images is not None:
        P = np.where(no_ink[:, None], np.nan, P)
        reasons.update({int(i): BLANK_PICTURE for i in np.flatnonzero(no_ink) if i not in unread})
        for i in unread:
            reasons.pop(i, None)
            chosen[i] = UNREAD
    if as_json:
        _write_predictions_json(chosen, P, alternatives, model.classes, reasons,
                                pictures=[str(path) for path in images] if images is not None else None,
                                unread=unread if images is not None else None)
        if images is not None and unread:
            raise typer.Exit(EXIT_BAD_INPUT)
        return
    names = [str(k) for k in (range(model.n_classes) if model.classes is None else model.classes.tolist())]
    table = Table("picture" if images is not None else "row", "digit", "p", *names, title="Predictions (probabilities in %)")
    if images is not None:  # each picture by its file's name, or its path where two names are the same; escaped
        bases = [path.name for path in images]
        shown = [one_line(base if bases.count(base) == 1 else str(path)) for base, path in zip(bases, images)]
    for i, (c, also, p) in enumerate(zip(chosen[:TABLE_ROWS], alternatives, P[:TABLE_ROWS])):
        if images is not None and i in unread:
            table.add_row(shown[i], "not read (its error is on stderr)", "-", *["-"] * len(names))
            continue
        if images is not None and no_ink[i]:
            table.add_row(shown[i], f"no digit (-1): {BLANK_PICTURE.removeprefix('no digit: ')}", "-", *["-"] * len(names))
            continue
        if i in reasons:
            digit = reasons[i].replace("no digit", "no digit (-1)", 1)
        else:
            digit = names[c] if c != NO_DIGIT else f"no digit (-1), likeliest {names[p.argmax()]}"
        digit += "".join(f", or perhaps {names[k]}" for k in also)
        table.add_row(shown[i] if images is not None else str(i + 1), digit, f"{p.max():.3f}",
                      *[f"{100 * v:.0f}" for v in p])
    out.print(table)
    if len(P) > TABLE_ROWS:
        out.print(f"... and {len(P) - TABLE_ROWS:,} more rows: --json prints them all", markup=False)
    if images is not None and unread:
        raise typer.Exit(EXIT_BAD_INPUT)


def _csv_shape_advice(message: str, model: Model, shipped: bool) -> str:
    """A CSV error, with the model's input shape and what to pass when the columns are the 8x8 digits'."""
    got = re.search(r"expected [^:]*columns .*, got (\d+)$", message)
    if got is None:
        return message
    size = "x".join(map(str, model.inputs.image_shape)) if model.inputs.image_shape else ""
    which = "the shipped drawing model" if shipped else "the model"
    message += f"; {which} takes {model.inputs.n_features} values{f' (a {size} image)' if size else ''} per row"
    if int(got.group(1)) in (OPTDIGITS.n_features, OPTDIGITS.n_features + 1) and model.inputs.n_features != OPTDIGITS.n_features:
        message += ": for 8x8 digits (64 columns), pass an 8x8 model: digitnet predict MODEL.safetensors --csv FILE"
    return message


def _picture_input(path: Path, inputs: Inputs) -> np.ndarray | None:
    """The network's input for the picture at ``path``; None when it holds no digit (blank, or the ink is too
    small). Raises DataError, naming the file, when it cannot be read as a picture."""
    from .data.images import MAX_PICTURE_BYTES
    from .preprocess import ink_from_image, to_input

    with open_regular(path, limit=MAX_PICTURE_BYTES) as f:  # a directory, a FIFO, a device: said so, not read
        data = f.read()
    try:
        return to_input(ink_from_image(data), inputs)
    except DigitnetError as e:
        raise DataError(f"{path}: {e}") from None


TABLE_ROWS = 100  # a table of a million rows helps nobody; --json streams any number
UNREAD = -2  # a picture that could not be read: no answer at all (-1 is the answer "no digit")


def _write_predictions_json(chosen: np.ndarray, P: np.ndarray, alternatives: list | None = None,
                            classes: np.ndarray | None = None, reasons: dict[int, str] | None = None,
                            block: int = 8192, pictures: list[str] | None = None,
                            unread: dict[int, str] | None = None) -> None:
    """{"predictions": [{"digit", "likeliest", "alternatives", "probabilities"}, ...]}, written block by block
    (NaN as null; a row of P all NaN, an input never given to the model, has null likeliest and probabilities);
    ``reasons`` {row: why it is no digit} adds "reason" to those rows (as /api/predict-batch does);
    "digit", "likeliest" and the alternatives are class labels when the model has them (-1: no digit).
    ``pictures`` (one name per row) starts each row with "picture"; ``unread`` {row: error} marks the pictures
    that could not be read: "digit" null (no answer, not "no digit") and "error"."""
    named = (lambda k: str(k)) if classes is None else (lambda k: "-1" if k == NO_DIGIT else _dumps(classes[k]))

    def label(k: int) -> str:
        return "null" if k == UNREAD else named(k)

    unread = unread or {}
    alternatives = alternatives if alternatives is not None else [()] * len(P)
    write = sys.stdout.write
    write('{"predictions": [')
    for start in range(0, len(P), block):
        Pb = np.round(P[start : start + block].astype(np.float64), 6)
        likeliest = np.nan_to_num(Pb, nan=-1.0).argmax(axis=1)
        asked = ~np.isnan(Pb).all(axis=1)
        # repr of a finite float is valid JSON and 1.5x faster than json.dumps; NaN goes through _dumps
        row_json = (lambda p: f"[{', '.join(map(repr, p))}]") if np.isfinite(Pb).all() else _dumps
        rows = [
            (f'{{"picture": {_dumps(pictures[i])}, ' if pictures is not None else "{")
            + f'"digit": {label(c)}, "likeliest": {label(m) if q else "null"}, '
            f'"alternatives": [{", ".join(label(k) for k in a)}], "probabilities": {row_json(p) if q else "null"}'
            + (f', "reason": {_dumps(reasons[i])}' if reasons and i in reasons else "")
            + (f', "error": {_dumps(unread[i])}' if i in unread else "") + "}"
            for i, c, m, a, p, q in zip(range(start, start + block), chosen[start : start + block].tolist(),
                                        likeliest.tolist(), alternatives[start : start + block], Pb.tolist(),
                                        asked.tolist())
        ]
        write((", " if start else "") + ", ".join(rows))
    write("]}\n")


@app.command("reproduce-blog", epilog="Example: digitnet reproduce-blog --runs 10 --dropout both")
@translate_errors
def reproduce_blog_command(
    runs: Annotated[int, typer.Option(help="Seeds 0 .. runs-1 (each seeds the split, the weights and the masks).")] = 10,
    dropout: Annotated[DropoutChoice, typer.Option(help="Run with the post's dropout on, off, or both.")] = DropoutChoice.both,
    jobs: Annotated[int, typer.Option(help="Parallel processes (-1: one per core).")] = -1,
    as_json: JsonOption = False,
) -> None:
    """Repeat the post's experiment over several seeds, side by side with its published figures."""
    if runs < 1:
        fail(f"--runs must be at least 1; got {runs}")
    if jobs < 1 and jobs != -1:
        fail(f"--jobs must be a positive number of processes or -1 for one per core; got {jobs}")
    dropouts = {"on": (True,), "off": (False,), "both": (True, False)}[dropout.value]
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err)
    with progress:
        task = progress.add_task("blog runs", total=runs * len(dropouts))
        results = reproduce_blog(range(runs), dropouts, n_jobs=jobs, callback=lambda r: progress.advance(task))
    summary = summarise(results)
    if as_json:
        payload = {"runs": [r.to_dict() for r in results], "summary": summary, "published": PUBLISHED}
        sys.stdout.write(_dumps(payload) + "\n")
        return
    _print_blog_runs(results, summary)


# the names of plots.FIGURES, spelled out so that `digitnet --help` does not import matplotlib
PlotKind = enum.Enum("PlotKind", {name: name for name in (  # type: ignore[misc]
    "digits", "confusion", "curves", "mistakes", "reliability", "weights", "probabilities")}, type=str)


FIGURE_FORMATS = (".png", ".svg", ".pdf")
REPORT_FORMATS = (".html", ".htm")


@app.command(epilog="Example: digitnet plot confusion model.safetensors --out confusion.png")
@translate_errors
def plot(
    kind: Annotated[PlotKind, typer.Argument(help="What to draw.")],
    model_path: ModelArgument,
    out_path: Annotated[Path, typer.Option("--out", help="Image to write: .png, .svg or .pdf.")],
    data: DataOption = None,
) -> None:
    """Draw one figure of a model, on its held-out test split (or --data)."""
    data = _the(data)
    check_writable(out_path, example=f"{kind.value}.png")
    if out_path.suffix.lower() not in FIGURE_FORMATS:
        fail(f"--out {out_path}: unsupported image type {out_path.suffix or '(none)'!r}; use one of {', '.join(FIGURE_FORMATS)}")
    check_distinct([("--out", out_path)], [("MODEL", model_path), *_data_inputs(data)])
    model = load_model(model_path)
    check_distinct([("--out", out_path)], _recorded_inputs(model, data))
    from . import plots  # matplotlib is imported only by the commands that draw

    figure = plots.FIGURES[kind.value]
    if figure.needs_images and model.inputs.image_shape is None:
        fail(f"the '{kind.value}' figure draws inputs as images, and this model's inputs are plain features")
    scored = plots.Scored(model, *held_out(model, data)) if figure.needs_data else plots.Scored(model)
    fig = figure.draw(scored)
    _write_figure(fig, out_path, example=f"{kind.value}.png", dpi=120)
    out.print(f"Figure written to {out_path}", markup=False)


@app.command(epilog="Example: digitnet report model.safetensors --out report.html")
@translate_errors
def report(
    model_path: ModelArgument,
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    data: DataOption = None,
) -> None:
    """Write one self-contained HTML report: settings, scores and every figure, images embedded."""
    data = _the(data)
    check_writable(out_path, example="report.html")
    check_distinct([("--out", out_path)], [("MODEL", model_path), *_data_inputs(data)])
    model = load_model(model_path)
    check_distinct([("--out", out_path)], _recorded_inputs(model, data))
    if out_path.suffix.lower() not in REPORT_FORMATS:  # as plot: the suffix says what the file holds
        fail(f"--out {out_path}: a report is one HTML file; name it {' or '.join(REPORT_FORMATS)}")
    from . import report as html_report

    written = html_report.write(model, out_path, data)
    out.print(f"Report written to {written}", markup=False)


SWEEP_PROGRESS = 10  # scikit-learn's and joblib's verbosity that prints a line per fit
SearchKind = enum.Enum("SearchKind", {name: name for name in ("grid", "random", "halving")}, type=str)  # type: ignore[misc]


@app.command(epilog='Example: digitnet sweep --grid "hidden=100,200 dropout=0,0.3 lr=0.01,0.02" --cv 3 --n-jobs 2')
@translate_errors
def sweep(
    grid: Annotated[str, typer.Option(help='Values to try: "NAME=V1,V2 NAME=V1,V2" (names: train\'s options or Config fields).')],
    cv: Annotated[int, typer.Option(help="Cross-validation folds, shuffled with --seed: whole writers per fold where "
                                         "the data know them (pen strokes), else stratified by class.")] = 5,
    search: Annotated[SearchKind, typer.Option(help="Every combination (grid), --n-iter of them (random), or successive halving.")] = SearchKind("grid"),
    n_iter: Annotated[int, typer.Option(help="Combinations tried by --search random.")] = 10,
    n_jobs: Annotated[int, typer.Option(help="Parallel fits on this machine (-1: one per core); with --dask-scheduler, the cluster's.")] = 1,
    dask_scheduler: Annotated[str | None, typer.Option(help="Run the fits on a Dask cluster, e.g. tcp://host:8786.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the folds, the random search and every fit.")] = 0,
    recipe: Annotated[Recipe, typer.Option(help=RECIPE_HELP.replace("Settings to start from", "The settings the grid changes"))] = Recipe(AUTO_RECIPE),
    data: Annotated[list[str] | None, typer.Option(
        "--data", metavar="DATA", help=DATA_HELP + " Repeat it to search on several at once, in the first one's "
                                       "input shape.")] = None,
    out_path: Annotated[Path, typer.Option("--out", help="Ranked results as CSV; a PNG of score against each parameter beside it.")] = Path("sweep.csv"),
    save_best: Annotated[Path | None, typer.Option(help="Refit the best settings on all the data and write the model file.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")] = False,
) -> None:
    """Cross-validated search over settings with scikit-learn's searches, on this machine's cores or a Dask cluster."""
    from . import sweep as sweeps

    if n_jobs < 1 and n_jobs != -1:
        fail(f"--n-jobs must be a positive number of processes or -1 for one per core; got {n_jobs}")
    # everything that can be checked, before the data are read and long before the first fit
    sweeps.check_options(cv=cv, kind=search.value, n_iter=n_iter, n_jobs=n_jobs, seed=seed, recipe=recipe.value,
                         scheduler=dask_scheduler)
    png = out_path.with_suffix(".png")
    outputs = [("--out", out_path, "sweep.csv"), (f"--out {out_path.name}'s figure", png, "sweep.png"),
               *([("--save-best", save_best, "best.safetensors")] if save_best else [])]
    for _, path, example in outputs:
        check_writable(path, example=example)
    check_distinct([(what, path) for what, path, _ in outputs], _data_inputs(data))
    parsed = sweeps.parse_grid(grid, limit=sweeps.MAX_RANDOM_GRID if search.value == "random" else sweeps.MAX_CANDIDATES)
    dataset = load_data(data)
    chosen = sweeps.choose_recipe(recipe.value, dataset)
    # what the data allow, before a line is printed: an error is then the one line the command writes
    sweeps.check_against_data(dataset, parsed, cv=cv, kind=search.value, n_iter=n_iter, seed=seed, recipe=chosen)
    n = math.prod(len(v) for v in parsed.values())
    planned = f"{min(n, n_iter) if search.value == 'random' else n} candidates x {cv} folds"
    if not quiet:
        err.print(f"Sweep ({search.value} search from recipe '{chosen}'): {planned} on {len(dataset.y)} samples"
                  f"{' on ' + dask_scheduler if dask_scheduler else ''}; progress from joblib below.", markup=False)
    start = time.perf_counter()
    with contextlib.redirect_stdout(sys.stderr):  # scikit-learn prints its progress; stdout is for results
        results, searcher = sweeps.search(dataset, parsed, cv=cv, kind=search.value, n_iter=n_iter, n_jobs=n_jobs,
                                          scheduler=dask_scheduler, seed=seed, recipe=chosen,
                                          verbose=0 if quiet else SWEEP_PROGRESS)
    elapsed = time.perf_counter() - start
    failed = [res for res in results if not math.isfinite(res.mean_score)]
    if failed:
        err.print(one_line(f"warning: {len(failed)} of {len(results)} candidates failed to fit and rank last "
                           f"({failed[0].failure})"), markup=False)
    # every output or none: a full disk leaves no CSV without its figure or its best model
    write_all([(out_path, sweeps.to_csv(results), "sweep.csv"),
               (png, _figure_bytes(sweeps.plot(results), png, dpi=100), "sweep.png"),
               *([(save_best, file_bytes(searcher.best_estimator_), "best.safetensors")] if save_best else [])])
    names = sorted(parsed)
    table = Table("rank", *names, "accuracy (mean ± std)", "fit time", title=f"Sweep: {planned}, {elapsed:.1f} s")
    for res in results[:TABLE_ROWS]:
        score = f"{res.mean_score:.2%} ± {res.std_score:.2%}" if math.isfinite(res.mean_score) else "failed"
        table.add_row(str(res.rank), *[str(res.params.get(k)) for k in names], score, f"{res.mean_fit_time * 1000:.0f} ms")
    out.print(table)
    out.print(f"Results written to {out_path} and {png}", markup=False)
    if save_best is not None:
        out.print(f"Best settings refitted on all {len(dataset.y)} samples: {save_best}", markup=False)


@app.command(epilog="Example: digitnet export model.safetensors --out model.onnx")
@translate_errors
def export(
    model_path: ModelArgument,
    out_path: Annotated[Path, typer.Option("--out", help="ONNX file to write.")] = Path("model.onnx"),
) -> None:
    """Write the model's inference graph as ONNX (raw inputs in; probabilities and label out). Needs digitnet[onnx]."""
    check_writable(out_path, example="model.onnx")
    check_distinct([("--out", out_path)], [("MODEL", model_path)])
    model = load_model(model_path)
    from . import export as onnx_export

    written = write_atomic(out_path, onnx_export.to_bytes(model), example="model.onnx")
    out.print(f"ONNX model (opset {onnx_export.OPSET}) written to {written}", markup=False)


@app.command(epilog="Example: digitnet serve model.safetensors mnist.safetensors --port 8000")
@translate_errors
def serve(
    models: Annotated[list[Path] | None, typer.Argument(
        metavar="[MODEL]...", show_default=False,
        help="Model files to serve; the page switches between them. None: the drawing model shipped with digitnet, and "
             "the default 8x8 model (trained once and cached).")] = None,
    host: Annotated[str, typer.Option(help="Address to listen on; the default keeps the page on this machine.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (1-65535).")] = 8000,
    data: Annotated[list[str] | None, typer.Option(
        "--data", metavar="DATA", show_default=False,
        help="Data the Train view may train on besides the embedded digits, as train's --data (repeatable).")] = None,
    no_train: Annotated[bool, typer.Option("--no-train", help="No Train view: the page cannot train.")] = False,
    max_train_seconds: Annotated[float, typer.Option(help="Training time of one run (pauses excluded).")] = Limits.seconds,
    max_train_hidden: Annotated[int, typer.Option(help="Hidden neurons a run may ask for.")] = Limits.n_hidden,
    max_train_epochs: Annotated[int, typer.Option(help="Epochs a run may ask for.")] = Limits.epochs,
    max_train_samples: Annotated[int, typer.Option(
        help="Samples of a data set a run may train on (the embedded digits are left out when they have more).")
    ] = Limits.samples,
    max_train_batch_size: Annotated[int, typer.Option(help="Samples per step a run may ask for.")] = Limits.batch_size,
    allow_hosts: Annotated[list[str] | None, typer.Option(
        "--allow-host", metavar="NAME",
        help="Another name the page is opened by (a DNS name of this machine, a proxy's), repeatable; requests "
             "naming any other host are refused (DNS rebinding). '*': any.")] = None,
) -> None:
    """Serve the draw-a-digit page, its JSON API (OpenAPI at /docs) and the Train view (/train). Needs digitnet[web]."""
    try:
        from .web import server
        from .web.app import create_app
        from .web.hosts import (LOOPBACK_HOSTS, check_host_name, is_address, is_public, is_unspecified, own_address,
                                trusted_hosts)
    except ImportError:
        fail("digitnet serve needs the web extra: pip install 'digitnet[web]'")
    # every option first, training on or off, then the port: before a model is read or trained
    if not 1 <= port <= 65535:
        fail(f"--port must be 1..65535; got {port}")
    limits = {"--max-train-seconds": max_train_seconds, "--max-train-hidden": max_train_hidden,
              "--max-train-epochs": max_train_epochs, "--max-train-samples": max_train_samples,
              "--max-train-batch-size": max_train_batch_size}
    for option, value in limits.items():
        if not value > 0:  # NaN too
            fail(f"{option} must be positive; got {value}")
    for name in allow_hosts or []:
        try:
            check_host_name(name)
        except ValueError as e:
            fail(f"--allow-host {name!r}: {e}")
    if no_train and data:
        fail("--data names what the Train view trains on; with --no-train there is none")
    _check_port_free(host, port)
    runner = None
    if not no_train:
        bounds = Limits(*limits.values())
        sources, notes = _train_sources(data, bounds)
        runner = Runner(sources, bounds)  # the runs cache is checked now, before any run
        for note in notes:
            err.print(one_line(f"note: {note}"), markup=False)
    served = {}
    for path in models or []:
        model = load_model(path)
        name = path.stem
        while name in served:
            name += "'"
        served[name] = (model, str(path))
    if not served:  # the shipped drawing model first; the post's 8x8 network beside it
        served["drawing"] = (_shipped_model(), "the drawing model shipped with digitnet")
        served["default"] = (_default_model(), "the default model (embedded digits)")
    train_view = f"; the Train view at /train (on {', '.join(runner.datasets)})" if runner else ""
    everywhere = is_unspecified(host)
    hosts = trusted_hosts(host, allow_hosts or ())
    app = create_app(served, runner, hosts=hosts, local_addresses=everywhere)
    # a URL that works in a browser here: a server on every interface is on loopback too
    shown = ("[::1]" if ":" in host else "127.0.0.1") if everywhere else f"[{host}]" if ":" in host else host
    err.print(one_line(f"Serving {len(served)} model{'s' if len(served) > 1 else ''} ({', '.join(served)}) at "
                       f"http://{shown}:{port}/ ; API docs at /docs{train_view}; Ctrl-C stops."), markup=False)
    if everywhere:
        names = [n for n in hosts if n not in LOOPBACK_HOSTS and not is_address(n)]
        other = own_address()
        err.print(one_line(f"It answers localhost, this machine's addresses{f' (http://{other}:{port}/)' if other else ''}"
                           f"{' and the names ' + ', '.join(names) if names else ''}; --allow-host NAME answers "
                           "another name (a proxy's, a DNS alias)"), markup=False)
    if is_public(host):
        reach = "serves every network this machine is on" if everywhere else "can be reached from other machines"
        err.print(f"warning: --host {host} {reach}, and the API has no authentication: anyone who can reach "
                  f"port {port} can use it", markup=False)
    # uvicorn takes Ctrl-C and SIGTERM while it serves (one stops it gracefully, a second Ctrl-C at once) and raises
    # them again once stopped: here they are only noted, so that nothing cuts through uvicorn's shutdown or the
    # training worker's (runner.close)
    ctrl_c.deferring = True
    terminated = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    try:
        server.run(app, host, port)
    finally:
        ctrl_c.deferring = False
        if runner is not None:
            runner.close()
        signal.signal(signal.SIGTERM, previous)
    if ctrl_c.pressed or terminated:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # exiting already: a press now changes nothing
        fail("stopped (SIGTERM)" if terminated else "stopped (Ctrl-C)",
             EXIT_TERMINATED if terminated else EXIT_INTERRUPTED)


def _train_sources(data: list[str] | None, limits: Limits) -> tuple[dict[str, object], list[str]]:
    """The Train view's data sets and notes about them: the embedded digits, left out (a note says so) when over
    the sample limit, and each --data, which must be within it (the operator asked for it: an error)."""
    sources, notes = {}, []
    digits = load_data(None)
    if len(digits.y) <= limits.samples:
        sources["digits"] = digits
    else:
        notes.append(f"the embedded digits ({len(digits.y):,} samples) are left out of the Train view: more than "
                     f"--max-train-samples {limits.samples}")
    for spec in data or []:
        dataset = load_data(spec)
        n = len(dataset.y)
        if n > limits.samples:
            fail(f"--data {spec} has {n:,} samples, more than --max-train-samples {limits.samples}: raise it to "
                 f"{n:,} or more, or leave that --data out")
        sources[spec] = dataset
    if not sources:
        n = len(digits.y)
        fail(f"--max-train-samples {limits.samples} leaves the Train view no data: the embedded digits have {n:,} "
             f"samples; raise it to {n:,} or more, or serve with --no-train")
    return sources, notes


def _shipped_model() -> Model:
    """The drawing model shipped with the package (`make models` builds it)."""
    from .models import load_drawing

    return load_drawing()


def _default_model() -> Model:
    """The default model, from the cache when an earlier `serve` trained it, else trained now (about a second).

    The cache entry ($XDG_CACHE_HOME/digitnet/default-VERSION.safetensors) is read only when it is a regular
    file in that directory, never through a link; one that is anything else or fails to load is replaced by
    a regular file there (a link is replaced, its target never touched).
    """
    import os
    import stat

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "digitnet" / f"default-{__version__}.safetensors"
    try:
        regular = stat.S_ISREG(cache.lstat().st_mode)
    except OSError:
        regular = False
    if regular:
        try:
            model = load_model(cache)
            err.print(one_line(f"Using the default model cached in {cache}"), markup=False)
            return model
        except DigitnetError:
            pass  # a damaged cache: train again
    err.print("Training the default model on the embedded digits (about a second)...", markup=False)
    model = train_model()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, to_bytes(model), follow_links=False)
    except (OSError, DigitnetError):
        pass  # no cache this time: nothing is lost
    return model


def _data_inputs(data: str | list[str] | None) -> list[tuple[str, Path]]:
    """The files ``--data`` reads, named for check_distinct."""
    return [("--data", path) for path in input_files(data)]


def _recorded_inputs(model: Model, data: str | None) -> list[tuple[str, Path]]:
    """Without --data: the files of the model's own training data, which held_out reads again."""
    return [] if data is not None else [("the model's training data", path) for path in recorded_files(model)]


def _check_port_free(host: str, port: int) -> None:
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        fail(f"--host {host!r}: not an address of this machine ({e.strerror})")
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as e:
            fail(f"cannot listen on {host}:{port} ({e.strerror}); choose another --port or --host")


def main() -> None:
    ctrl_c.install()
    app(prog_name="digitnet")


# ---- helpers: parsing and printing only -------------------------------------------------------


def _data_shape(dataset) -> str:
    """'1,797 8x8 images' or '150 rows of 5 features': what --recipe auto looked at."""
    shape = dataset.inputs.image_shape
    n = len(dataset.y)
    return f"{n:,} {shape[0]}x{shape[1]} images" if shape else f"{n:,} rows of {dataset.inputs.n_features} features"


def _print_train_summary(model: Model, written: Path | None, chosen: str = "") -> None:
    h, m = model.history, model.metrics
    why = STOP_REASONS[h.stop_reason]
    kept = f"; kept the weights of epoch {h.best_epoch} (lowest validation loss)" if h.best_epoch else ""
    epochs = f"{h.epochs} epoch{'s' if h.epochs != 1 else ''}"
    out.print(f"Trained '{model.config.recipe}'{chosen} for {epochs}: {why}{kept}.", markup=False)
    if written is not None:
        out.print(
            f"Test accuracy {m['accuracy']:.2%}, the post's score {m['blog_score']:.2%}, "
            f"squared error {m['squared_error']:.4f}, on {m['n_test']} held-out digits.", markup=False
        )
        if model.temperature != 1:
            out.print(f"Probabilities calibrated on held-out training digits: softmax temperature "
                      f"{model.temperature:.4g}.", markup=False)
        for part, accuracy in m.get("parts", {}).items():
            out.print(f"  {part}: {accuracy:.2%} of its held-out digits", markup=False)
        out.print(f"Model written to {written}", markup=False)


def _print_evaluation(scores: Evaluation, where: str) -> None:
    out.print(f"Scored on {scores.n} digits ({one_line(where)}).", markup=False)  # a path from a model file: untrusted
    out.print(
        f"accuracy {scores.accuracy:.2%}   the post's score {scores.blog_score:.2%}   "
        f"squared error {scores.squared_error:.4f}   no digit chosen: {scores.no_digit}", markup=False
    )
    out.print(f"calibration error (ECE, {ECE_BINS} bins of the top probability) {scores.ece:.4f}   "
              f"log loss {scores.log_loss:.4f}", markup=False)
    table = Table(title="Confusion matrix: rows true label, columns predicted by the post's rule (-1: no digit)")
    table.add_column("true \\ pred", justify="right")
    for label in scores.labels:
        table.add_column(str(label), justify="right")
    for label, row in zip(scores.labels, scores.confusion):
        if label == NO_DIGIT:
            continue  # no sample has true label -1
        table.add_row(str(label), *[str(v) if v else "." for v in row])
    out.print(table)
    recall = Table("digit", "precision", "recall", "F1", title="Per class (argmax predictions)")
    for k in range(len(scores.precision)):
        recall.add_row(str(k), f"{scores.precision[k]:.3f}", f"{scores.recall[k]:.3f}", f"{scores.f1[k]:.3f}")
    out.print(recall)


def _write_figure(fig, path: Path, *, example: str, dpi: int) -> None:
    """A matplotlib Figure to ``path`` atomically, in the format its suffix names."""
    write_atomic(path, _figure_bytes(fig, path, dpi=dpi), example=example)


def _figure_bytes(fig, path: Path, *, dpi: int) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=path.suffix.lower()[1:], dpi=dpi)
    return buffer.getvalue()


def _parse_pixels(text: str, inputs: Inputs) -> np.ndarray:
    cells = [c for c in text.replace(",", " ").split() if c]
    try:
        values = [float(c) for c in cells]
    except ValueError:
        bad = next(c for c in cells if not is_number(c))
        raise DataError(f"--pixels: {bad!r} is not a number") from None
    d = inputs.n_features
    if len(values) != d:
        size = f"{inputs.image_shape[0]}x{inputs.image_shape[1]}" if inputs.image_shape else ""
        shape = f" ({article(size)} {size} image, row by row)" if size else ""
        raise DataError(f"--pixels: expected {d} values{shape}, got {len(values)}")
    return np.array(values).reshape(1, d)


def _print_blog_runs(runs: list[BlogRun], summary: dict) -> None:
    table = Table(title="The post's algorithm over seeds (test scores on each seed's 25% split, unstratified as the post's train_test_split)")
    for name in ("seed", "dropout", "epochs", "stopped", "train error", "test error", "post's score", "accuracy"):
        table.add_column(name, justify="right")
    for r in runs:
        table.add_row(
            str(r.seed), "on" if r.dropout else "off", str(r.epochs), r.stop_reason,
            _fmt(r.train_error, ".4f"), _fmt(r.test_error, ".4f"), f"{r.blog_score:.2%}", f"{r.accuracy:.2%}",
        )
    p = PUBLISHED
    table.add_row("published", "?", f"{p['epochs']}", "tolerance", f"{p['train_error']:.4f}",
                  f"{p['test_error']:.4f}", f"{p['blog_score']:.2%}", "-", style="bold")
    out.print(table)
    for setting, s in summary.items():
        out.print(
            f"dropout {setting}: {s['runs']} runs, {s['diverged']} diverged (NaN), {s['tolerance']} reached the "
            f"tolerance, {s['max_epochs']} hit the epoch limit; median {s['median_epochs']:g} epochs; "
            f"accuracy {s['mean_accuracy']:.2%} ± {s['std_accuracy']:.2%}"
            + (f" ({s['mean_accuracy_not_diverged']:.2%} over the runs that did not diverge)." if s["diverged"] and s["diverged"] < s["runs"] else "."),
            markup=False,
        )
    out.print("The post reports convergence after 12 epochs (\"iteration 11\") at 95.33%: "
              "compare with the dropout-off runs.", markup=False)


def _fmt(value: float, spec: str) -> str:
    return "NaN" if not math.isfinite(value) else format(value, spec)
