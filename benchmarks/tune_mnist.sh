#!/usr/bin/env bash
# Re-runs the cross-validation behind the `mnist` recipe and rewrites benchmarks/TUNING_MNIST.md.
# 3-fold stratified cross-validation on MNIST's 60,000 training images only (see tune_mnist.py);
# each grid names every setting it depends on, so it does not depend on the recipe's current values.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
grids=(
  '{"augment": [0], "batch_size": [128, 256], "lr": [0.002, 0.005, 0.01], "epochs": [20]}'
  '{"augment": [0], "batch_size": [128], "lr": [0.002], "dropout": [0.0, 0.2, 0.35], "epochs": [20, 40]}'
  '{"augment": [0], "batch_size": [128], "lr": [0.002], "l2": [0.0001, 0.001, 0.003], "label_smoothing": [0.1, 0.2], "input_noise": [0.0, 0.3]}'
  '{"batch_size": [128], "lr": [0.005], "augment": [1, 2], "epochs": [20, 40]}'
  '{"augment": [1], "batch_size": [128], "epochs": [30, 60], "lr": [0.002, 0.004]}'
  '{"augment": [1], "batch_size": [128], "epochs": [20], "lr": [0.002, 0.004]}'
  '{"augment": [1], "epochs": [20], "batch_size": [256], "lr": [0.002, 0.004]}'
)
{
  echo "# Tuning the mnist recipe"
  echo
  echo "Written by \`benchmarks/tune_mnist.sh\`; do not edit by hand. Mean held-out accuracy of 3-fold"
  echo "cross-validation on MNIST's 60,000 training images (40,000 train, 20,000 held out per fold; the t10k"
  echo "test files are never read), mean fit time per fold (two folds run at once, one BLAS thread each), and the"
  echo "setting; settings not named are the \`mnist\` recipe's (Adam, cosine, label smoothing 0.1,"
  echo "L2 1e-4, no validation split)."
  for grid in "${grids[@]}"; do
    echo
    echo "## \`$grid\`"
    echo
    echo '```'
    $PY tune_mnist.py "$grid"
    echo '```'
  done
  # the mnist-elastic section is tune_mnist_elastic.sh's: kept as it is
  if grep -q '^## Elastic distortions' TUNING_MNIST.md 2>/dev/null; then
    echo
    sed -n '/^## Elastic distortions/,$p' TUNING_MNIST.md
  fi
} > TUNING_MNIST.md.tmp
mv TUNING_MNIST.md.tmp TUNING_MNIST.md
