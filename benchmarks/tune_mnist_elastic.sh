#!/usr/bin/env bash
# Re-runs the search behind the `mnist-elastic` recipe and rewrites its section of benchmarks/TUNING_MNIST.md
# (everything from the line "## Elastic distortions" on; tune_mnist.sh keeps that section when it rewrites the rest).
# Each setting trains once on the first 50,000 of MNIST's training images and is scored on the last 10,000
# (tune_mnist.py --validation 10000); the t10k test files are never read. Hours on a shared 2-core machine.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-../.venv/bin/python}
SECTION="## Elastic distortions: the mnist-elastic recipe"
grids=(
  '{"epochs": [30], "elastic_alpha": [0, 8, 16, 34], "elastic_sigma": [4, 6]}'
  '{"epochs": [150], "elastic_alpha": [16, 34], "elastic_sigma": [4, 6]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "rotation": [0, 10], "zoom": [0, 0.1]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "stroke": [0.3, 0.6], "shear": [0, 10]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "l2": [0.0, 0.0001], "lr": [0.004, 0.008]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "batch_size": [64, 128], "lr": [0.002, 0.004]}'
  '{"epochs": [50], "elastic_alpha": [34, 50], "elastic_sigma": [8], "label_smoothing": [0.1]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "label_smoothing": [0.0, 0.2]}'
  '{"epochs": [50], "elastic_alpha": [34], "elastic_sigma": [6], "l2": [0.0003, 0.001]}'
  '{"epochs": [300], "elastic_alpha": [34], "elastic_sigma": [6], "rotation": [0, 10]}'
  '{"epochs": [300], "elastic_alpha": [34], "elastic_sigma": [6], "rotation": [10, 15], "zoom": [0.1]}'
  '{"epochs": [300], "elastic_alpha": [34], "elastic_sigma": [6], "rotation": [10], "batch_size": [128], "l2": [0.0001, 0.0003]}'
)
{
  echo "$SECTION"
  echo
  echo "Written by \`benchmarks/tune_mnist_elastic.sh\`; do not edit by hand. Validation accuracy on the last 10,000"
  echo "of MNIST's 60,000 training images, each setting trained once (seed 0) on the first 50,000 (one run: a"
  echo "standard error of about 0.1% at 99%); the t10k test files are never read. Fit time of one run (one BLAS"
  echo "thread, two runs at once, on a machine shared with other jobs: indicative only). Settings not named are"
  echo "the \`mnist\` recipe's (batches of 256, Adam at 0.004 with a cosine decay, label smoothing 0.1, L2 1e-4,"
  echo "1-pixel shifts)."
  for grid in "${grids[@]}"; do
    echo
    echo "### \`$grid\`"
    echo
    echo '```'
    nice -n 10 $PY tune_mnist.py "$grid" --validation 10000
    echo '```'
  done
  echo
  cat <<'CHOSEN'
### What was chosen, and why

- Elastic distortions help, and more the longer the run: at 30 epochs the best fields (alpha 16-34,
  sigma 4-6) add 0.1-0.15 points to the `mnist` recipe's shifts alone (98.58%); at 150 epochs alpha 34
  with sigma 6 reaches 99.03%, while Simard et al.'s sigma 4 at the same alpha (rougher fields) falls
  to 98.77%.
- Around it, at 50 epochs, the `mnist` recipe's own settings stay best: L2 1e-4 against 0 (98.61%),
  3e-4 (98.89%) and 1e-3 (98.68%); rate 0.004 against 0.008; batches of 256 against 64 and 128; label
  smoothing 0.1 against 0 and 0.2. Rotation, zoom, shear and stroke width each cost 0.1-0.2 points at
  50 epochs: a network that sees harder data needs more epochs.
- At 300 epochs: elastic alone 99.03% (as at 150), with rotations up to 10 degrees 99.08%, with zoom
  0.1 too 99.03%, rotations up to 15 and zoom 0.1 99.08%: a plateau within one standard error (about
  0.1% on 10,000 images); batches of 128 99.06%, and with L2 3e-4 98.85%. Past 150 epochs the 200
  hidden units, not the data, limit the network.
- Chosen, `mnist-elastic`: the `mnist` recipe plus elastic fields (alpha 34, sigma 6) and rotations up
  to 10 degrees, 300 epochs (the simpler of the two best), with 5% of the training images held out to
  calibrate the probabilities (benchmarks/CALIBRATION.md). The stroke-width change and shear did not
  earn their keep on MNIST's own test distribution; they stay available as settings for data that
  vary more (pens, writers).
- `mnist` is unchanged, so its documented figures still hold.
- Scored once, after the choice, on the t10k test digits (trained on all 60,000 training images less the
  5% calibration split, seed 0): 99.12%, 0.88% error (benchmarks/MNIST.md re-measures it), short of
  the 0.8% aimed at: LeCun's table lists 1.1% for 800 hidden units with affine distortions and 0.7%
  with elastic ones.
CHOSEN
} > TUNING_MNIST.md.elastic
old=$(sed -n "/^$SECTION/q;p" TUNING_MNIST.md)
{ printf '%s\n\n' "$old"; cat TUNING_MNIST.md.elastic; } > TUNING_MNIST.md.tmp
rm TUNING_MNIST.md.elastic
mv TUNING_MNIST.md.tmp TUNING_MNIST.md
