"""Redraw the README's pictures from the default model: python docs/make_figures.py

Writes docs/images/{digits,confusion,weights,curves}.png (seed 0, the embedded digits).
"""

from pathlib import Path

import digitnet
from digitnet import plots
from digitnet.data import held_out

OUT = Path(__file__).resolve().parent / "images"
README = ("digits", "confusion", "weights", "curves")  # names in plots.FIGURES


def main() -> None:
    model = digitnet.train(config=digitnet.Config.from_recipe("modern", seed=0))
    scored = plots.Scored(model, *held_out(model))
    OUT.mkdir(exist_ok=True)
    for name in README:
        plots.FIGURES[name].draw(scored).savefig(OUT / f"{name}.png", dpi=80)
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
