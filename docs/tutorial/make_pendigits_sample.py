"""Write docs/tutorial/pendigits-sample.json: real pen strokes for the real-handwriting tutorial.

    python docs/tutorial/make_pendigits_sample.py [PENDIGITS_DIR]    (default: ../shared/data/pendigits)

From UCI's pendigits in its original UNIPEN form (pendigits-orig.tra.gz: 7,494 digits by 30 writers on a
tablet; Alpaydin and Alimoglu, 1998, CC BY 4.0), read by digitnet's own UNIPEN reader
(:func:`digitnet.data.unipen.read_unipen`, the one behind ``--data unipen:FILE``): for each of WRITERS
writers, the first PER_CLASS digits of each class, as that writer wrote them. Tablet y grows upward; it is
flipped here into image coordinates (y down), so the strokes draw as they look. The tutorial reads this
file, not the data folder, so that the documentation builds on a fresh clone.
"""

import json
import sys
from pathlib import Path

from digitnet.data.unipen import read_unipen

HERE = Path(__file__).resolve().parent
WRITERS = 10  # writers 1, 4, 7, ... (every third of the 30)
PER_CLASS = 2
BOX = 500  # the tablet box the digits were written in, tablet pixels


def as_json(digit) -> dict:
    """One PenDigit as the sample stores it: label, writer, strokes of [x, y] integer points, y down."""
    strokes = [[[int(x), BOX - int(y)] for x, y in stroke.tolist()] for stroke in digit.strokes]
    return {"label": digit.label, "writer": digit.writer, "strokes": strokes}


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data" / "pendigits"
    digits, _, _ = read_unipen(folder / "pendigits-orig.tra.gz")
    writers = sorted({d.writer for d in digits})[::3][:WRITERS]
    chosen = []
    for writer in writers:
        for label in range(10):
            mine = [d for d in digits if d.writer == writer and d.label == label]
            chosen += [as_json(d) for d in mine[:PER_CLASS]]
    out = {
        "source": "UCI pendigits, original UNIPEN files (pendigits-orig.tra): Alpaydin, E. and Alimoglu, F., "
                  "Pen-Based Recognition of Handwritten Digits, UCI Machine Learning Repository, 1998. CC BY 4.0.",
        "box": BOX,
        "coordinates": "tablet pixels, x right, y down (flipped from the tablet's y up)",
        "digits": chosen,
    }
    path = HERE / "pendigits-sample.json"
    path.write_text(json.dumps(out, separators=(",", ":")) + "\n")
    print(f"{path}: {len(chosen)} digits by {len(writers)} writers, {path.stat().st_size:,} bytes")


if __name__ == "__main__":
    main()
