"""docs/backprop.md stays true: every equation it names is tested, its commands exist, its numbers are fresh."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import digitnet
import test_backprop_equations
from digitnet.cli import app

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "backprop.md").read_text()


def test_every_named_equation_has_a_test():
    named = re.findall(r"\*\*`(eq_\w+)`", DOC)
    assert len(named) >= 12
    tests = [name for name in dir(test_backprop_equations) if name.startswith("test_eq_")]
    missing = [eq for eq in named if not any(eq in test for test in tests)]
    assert missing == []


def test_commands_in_the_document_exist():
    commands = re.findall(r"`(digitnet [^`]+)`", DOC)
    assert any("reproduce-blog" in c for c in commands)
    for command in commands:
        words = command.split()[1:]
        subcommand = [w for w in words if not w.startswith("-")][:1]
        result = CliRunner().invoke(app, [*subcommand, "--help"])
        assert result.exit_code == 0, command
        for option in (w for w in words if w.startswith("--")):
            assert option in result.stdout, f"{command}: {option} is not an option"


@pytest.mark.slow
def test_numbers_in_the_document_are_what_the_code_gives():
    """`make docs-check`: recompute every number block of docs/backprop.md and compare."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "docs" / "backprop_numbers.py"), "--check"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stderr


def test_figures_of_the_current_recipes_in_the_document_come_from_them(monkeypatch):
    """The quick blocks of docs/backprop.md that quote the recipes (smoothing, schedule, sizes) are fresh, and
    follow the recipe when it changes: `make docs-check` fails when they go stale."""
    monkeypatch.syspath_prepend(str(ROOT / "docs"))
    import backprop_numbers

    blocks = {m.group(2): m.group(3) for m in backprop_numbers.BLOCK.finditer(DOC)}
    for name in ("modern_targets", "modern_parameters", "modern_schedule"):
        assert blocks[name] == backprop_numbers.BLOCKS[name](), name
    assert "label smoothing 0.2: each target row of its 10 classes becomes $0.8\\,y + 0.02$" in blocks["modern_targets"]
    monkeypatch.setitem(backprop_numbers.RECIPES, "modern", digitnet.Config(label_smoothing=0.1, lr=0.02, epochs=16))
    assert "$0.9\\,y + 0.01$" in backprop_numbers.block_modern_targets()
    assert "from 0.02 to 0 over its 16 epochs" in backprop_numbers.block_modern_schedule()
