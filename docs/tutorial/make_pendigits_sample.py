"""Write docs/tutorial/pendigits-sample.json: real pen strokes for the real-handwriting tutorial.

    python docs/tutorial/make_pendigits_sample.py [PENDIGITS_DIR]    (default: ../shared/data/pendigits)

From UCI's pendigits in its original UNIPEN form (pendigits-orig.tra.gz: 7,494 digits by 30 writers on a
tablet; Alpaydin and Alimoglu, 1998, CC BY 4.0): for each of WRITERS writers, the first PER_CLASS digits
of each class, as that writer wrote them. Tablet y grows upward; it is flipped here into image
coordinates (y down), so the strokes draw as they look. The tutorial reads this file, not the data
folder, so that the documentation builds on a fresh clone.
"""

import gzip
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
WRITERS = 10  # writers 1, 4, 7, ... (every third of the 30)
PER_CLASS = 2
BOX = 500  # the tablet box the digits were written in, tablet pixels


def read_unipen(path: Path) -> list[dict]:
    """[{"label", "writer", "strokes": [[[x, y], ...], ...]}] in file order."""
    digits, stroke = [], None
    with gzip.open(path, "rt", encoding="ascii") as f:
        for line in f:
            word = line.split()
            if not word:
                continue
            if word[0] == ".SEGMENT":
                digits.append({"label": int(word[-1].strip('"')), "writer": None, "strokes": []})
            elif word[0] == ".COMMENT" and digits:
                digits[-1]["writer"] = int(word[2])
            elif word[0] == ".PEN_DOWN":
                stroke = []
                digits[-1]["strokes"].append(stroke)
            elif word[0] == ".PEN_UP":
                stroke = None
            elif stroke is not None and not word[0].startswith("."):
                x, y = int(word[0]), int(word[1])
                stroke.append([x, BOX - y])  # y up on the tablet, down in a picture
    return digits


def main() -> None:
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parents[2] / "shared" / "data" / "pendigits"
    digits = read_unipen(folder / "pendigits-orig.tra.gz")
    writers = sorted({d["writer"] for d in digits})[::3][:WRITERS]
    chosen = []
    for writer in writers:
        for label in range(10):
            mine = [d for d in digits if d["writer"] == writer and d["label"] == label]
            chosen += mine[:PER_CLASS]
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
