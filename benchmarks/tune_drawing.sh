#!/usr/bin/env bash
# Every run of the drawing model's search over writer folds (benchmarks/tune_drawing.py), in order; a setting already
# in benchmarks/tune_drawing.jsonl is not run again. Then benchmarks/TUNING_DRAWING.md is rewritten from the log.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
JOBS=${JOBS:-1}
$PY benchmarks/tune_drawing.py '[{}, {"stroke": 0.5}, {"stroke": 1.0}]' --stage "stroke width (thick pens)" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py '[{"seed": 1}, {"stroke": 0.5, "seed": 1}]' \
    --stage "stroke width (thick pens), replicate with seed 1" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py '[{"stroke": 0.5, "stretch_to_box": 0.0}, {"stroke": 0.5, "stretch_to_box": 0.1}]' \
    --stage "stretched to the box (digits stored stretched)" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py '[{"stroke": 0.5, "stretch_to_box": 0.0, "seed": 1}, {"stroke": 0.5, "stretch_to_box": 0.1, "seed": 1}]' \
    --stage "stretched to the box, replicate with seed 1" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py '[{"stroke": 0.5, "stretch_to_box": 0.1, "epochs": 60}]' --stage "longer" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py '[{"stroke": 0.5, "stretch_to_box": 0.1, "epochs": 60, "seed": 1}]' \
    --stage "longer, replicate with seed 1" --jobs "$JOBS"
$PY benchmarks/tune_drawing.py --report
