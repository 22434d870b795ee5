#!/usr/bin/env bash
# Re-runs the search of TUNING_MNIST.md's section "Toward 0.8%": every run of tune_mnist_error.py, one at a
# time (nice), in the order they were made; runs already in benchmarks/tune_mnist_error.jsonl are skipped, so
# it continues where it stopped. Delete the log to start afresh. About half an hour (2-6 minutes a run).
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
t() { nice -n 10 "$PY" tune_mnist_error.py run "$@"; }

# 60-epoch proxies: each idea alone on the mnist-elastic recipe (seed 0), then replicates with seed 1
t '{"epochs": 60}'
t '{"epochs": 60, "ema_decay": 0.999}'
t '{"epochs": 60, "ema_decay": 0.9995}'
t '{"epochs": 60, "clean_epochs": 6}'
t '{"epochs": 60}' --seed 1
t '{"epochs": 60, "clean_epochs": 6}' --seed 1
t '{"epochs": 60, "distortion_end": 0.5}'
t '{"epochs": 60, "distortion_end": 0.0}'
t '{"epochs": 60, "clean_epochs": 12}'
t '{"epochs": 60}' --seed 2
t '{"epochs": 60, "clean_epochs": 6}' --seed 2
t '{"epochs": 60, "clean_epochs": 3}'
