"""Redraw the README's pictures from the default model: python docs/make_figures.py

Writes docs/images/{digits,confusion,weights,curves}.png (seed 0, the embedded digits).
"""

from pathlib import Path

import digitnet
from digitnet import plots
from digitnet.model import held_out

OUT = Path(__file__).resolve().parent / "images"


def main() -> None:
    model = digitnet.train(config=digitnet.Config.from_recipe("modern", seed=0))
    X, y, where = held_out(model)
    predicted = model.predict(X)
    figures = {
        "digits": plots.digit_grid(X[:50], y[:50], predicted[:50], title="Test digits, labelled as the post does"),
        "confusion": plots.confusion(model.evaluate(X, y), title=f"Confusion matrix, {where}"),
        "weights": plots.hidden_weights(model),
        "curves": plots.learning_curves(model.history, label_smoothing=model.config.label_smoothing),
    }
    OUT.mkdir(exist_ok=True)
    for name, fig in figures.items():
        fig.savefig(OUT / f"{name}.png", dpi=80)
        print(OUT / f"{name}.png")


if __name__ == "__main__":
    main()
