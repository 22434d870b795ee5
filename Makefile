# `make run` and `make test` work on a fresh machine: each creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
OUT := out

.PHONY: run test test-fast bench models docs docs-numbers docs-check clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# one stamp per set of extras, remade when pyproject.toml changes
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m pip install --quiet -e '.[bench,torch]' || echo "PyTorch 2.13.0 could not be installed: the benchmark skips it"
	touch $@

run: $(VENV)/.installed-run
	mkdir -p $(OUT)
	$(BIN)/digitnet train --out $(OUT)/model.safetensors
	$(BIN)/digitnet evaluate $(OUT)/model.safetensors
	$(BIN)/digitnet report $(OUT)/model.safetensors --out $(OUT)/report.html

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -m "not slow"

bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/mnist.py
	$(BIN)/python benchmarks/load.py
	$(BIN)/python benchmarks/run.py      # last: RESULTS.md includes MNIST.md and LOAD.md
	$(BIN)/python benchmarks/big_files.py
	$(BIN)/python benchmarks/realworld.py   # held-out writers, photos and scans: REALWORLD.md (an hour)

# The drawing model shipped in the package, from the public files in $(SHARED)/data (MNIST, the UCI pen digits,
# the embedded digits); the command, the sources' SHA-256s and the held-out scores are recorded in the file.
# The hidden width: chosen by cross-validation over the pen file's writers (benchmarks/REALWORLD.md); the epochs, the
# stroke-width augmentation and the digits stretched to their box too (benchmarks/TUNING_DRAWING.md). The softmax temperature: fitted on 10% of the training rows, whole
# pen writers held out (calibration_fraction).
SHARED ?= ../shared
DRAWING_HIDDEN ?= 200
models: $(VENV)/.installed-run
	$(BIN)/digitnet train --recipe mnist --hidden $(DRAWING_HIDDEN) --seed 0 --quiet \
		--set epochs=60 --set stroke=0.5 --set stretch_to_box=0.1 --set calibration_fraction=0.1 \
		--data mnist:$(SHARED)/data/mnist --data unipen:$(SHARED)/data/pendigits/pendigits-orig.tra.gz --data digits \
		--out src/digitnet/models/drawing.safetensors

$(VENV)/.installed-docs: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	touch $@

# the documentation site, offline, into docs/_build/html: warnings are errors, the tutorials are executed
docs: $(VENV)/.installed-docs
	$(BIN)/python -m sphinx -W --keep-going -b html docs docs/_build/html

# the numbers quoted in docs/backprop.md, recomputed
docs-numbers: $(VENV)/.installed-dev
	$(BIN)/python docs/backprop_numbers.py --write

docs-check: $(VENV)/.installed-dev
	$(BIN)/python docs/backprop_numbers.py --check

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache docs/_build docs/benchmarks
