# Fresh-machine set-up and the entry points of the README: `make demo`, `make test` and
# `make matrix`. Each step is idempotent: re-running only does what is missing.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
CONSTRAINTS := $(VENV)/constraints.txt
STAMP := $(VENV)/.installed
# The demo: every strategy on the speech style-transfer tasks and their probe at the quick
# budget, one seed, in its own results and report directories (never the committed reports/).
# Two workers share it, one core each (the runner's claims give each run to one of them).
DEMO_RUN ?= --strategy all --task synthetic_speech,realistic_speech,probe_speech --budget quick \
	--workers 2
DEMO_RESULTS ?= results/demo
DEMO_REPORTS ?= $(DEMO_RESULTS)/report
# The whole matrix at the quick budget, 3 seeds (hours on a 2-core CPU; resumable).
MATRIX_RUN ?= --strategy all --task all --budget quick --seeds 3
MATRIX_RESULTS ?= results/matrix
MATRIX_REPORTS ?= $(MATRIX_RESULTS)/report

.PHONY: setup demo matrix test lint

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
	$(BIN)/python -m bench data build --corpus speech
	$(BIN)/python -m bench run $(DEMO_RUN) --results-dir $(DEMO_RESULTS)
	$(BIN)/python -m bench report --results-dir $(DEMO_RESULTS) --reports-dir $(DEMO_REPORTS)
	@echo "demo report: $(DEMO_REPORTS)/index.html (tables: $(DEMO_REPORTS)/leaderboard.md)"

matrix: setup
	$(BIN)/python -m bench data build
	$(BIN)/python -m bench run $(MATRIX_RUN) --results-dir $(MATRIX_RESULTS)
	$(BIN)/python -m bench report --results-dir $(MATRIX_RESULTS) --reports-dir $(MATRIX_REPORTS)
	@echo "matrix report: $(MATRIX_REPORTS)/index.html (tables: $(MATRIX_REPORTS)/leaderboard.md)"

# The layer contracts first (`[tool.importlinter]` in pyproject.toml: seconds), then the suite.
test: setup
	$(BIN)/lint-imports
	$(BIN)/python -m bench data build --tier smoke
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check .
