"""docs/backprop.md stays true: every equation it names is tested, its commands exist, its numbers are fresh."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

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
