# Fresh-machine set-up and the two entry points of the README: `make demo` and `make test`.
# Each step is idempotent: re-running only does what is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
CONSTRAINTS := $(VENV)/constraints.txt
STAMP := $(VENV)/.installed
# The main job: the whole matrix at the quick budget (hours on a 2-core CPU; resumable).
DEMO_RUN ?= --strategy all --task all --budget quick --seeds 3

.PHONY: setup demo test lint

# torch first (the local CPU wheel), then everything else pinned against it: no CUDA wheels.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet $(TORCH)
	echo "$(TORCH)" > $(CONSTRAINTS)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)
	$(BIN)/python -m bench doctor --install

demo: setup
	$(BIN)/python -m bench data build
	$(BIN)/python -m bench run $(DEMO_RUN)
	$(BIN)/python -m bench report

test: setup
	$(BIN)/python -m bench data build --tier smoke
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
