"""Every limit `digitnet serve` takes is in the Train view's limits table, with the default the CLI uses."""

import re
from pathlib import Path

import typer

from digitnet.cli import app

GUIDE = Path(__file__).parents[1] / "docs" / "guide" / "train-view.md"


def test_every_max_train_option_is_in_the_limits_table_with_its_default():
    table = {m.group(1): m.group(2) for m in re.finditer(r"^\s*\| `(--max-train-[a-z-]+)` \|[^|]*\| ([0-9,.]+) \|$",
                                                         GUIDE.read_text(), re.M)}
    serve = typer.main.get_command(app).commands["serve"]
    options = {name: p.default for p in serve.params for name in p.opts if name.startswith("--max-train-")}
    assert len(options) >= 5 and set(table) == set(options)
    for name, default in options.items():
        assert float(table[name].replace(",", "")) == default, name
