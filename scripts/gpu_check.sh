#!/usr/bin/env bash
# The device checks of issue 20, on a machine with a CUDA GPU, from the repository root:
#
#   scripts/gpu_check.sh OUT_DIR [DEVICE]      # DEVICE: cuda (default), cuda:N, or cpu
#
# 1. the exact effects on DEVICE equal the CPU reference and pass gradcheck in float64
#    (`bench verify --effects --device`, the GPU tests, the scan tests);
# 2. `bench perf --device`: kernel ratios, real-time factors and the training step at
#    DeepAFx-ST's sizes next to its GTX 1080 Ti seconds; `perf --steps --device` at the smoke
#    budget, with the transfers each step makes;
# 3. one smoke cell (synthetic_speech) per gradient strategy with `run --device`, and its report.
# Everything goes under OUT_DIR (logs, JSON, results, reports); the checkout is left alone.
# With DEVICE=cpu and QUICK=1 it dry-runs every step on a CPU in minutes.
#
# Python: $PYTHON, else .venv/bin/python, else a new .venv with torch 2.13.0 (from PyPI: the CUDA
# build on Linux) and this checkout. Corpora and artefacts: $AFX_BENCH_CACHE, default
# OUT_DIR/cache; the smoke speech corpus is built when missing (`bench doctor --install` as root
# installs the Debian packages it needs), or copy ~/.cache/afx-bench/corpora/speech-v1/smoke of a
# machine that has it.
set -euo pipefail
out=${1:?usage: scripts/gpu_check.sh OUT_DIR [DEVICE]}
dev=${2:-cuda}
quick=${QUICK:+--quick}
mkdir -p "$out"
out=$(cd "$out" && pwd)
export AFX_BENCH_CACHE=${AFX_BENCH_CACHE:-$out/cache} NUMBA_NUM_THREADS=1
py=${PYTHON:-.venv/bin/python}
if [ ! -x "$py" ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q torch==2.13.0
  echo "torch==2.13.0" > .venv/constraints.txt
  .venv/bin/pip install -q -c .venv/constraints.txt -e '.[dev,cluster]'
  py=.venv/bin/python
fi
step() { echo "== $*" | tee -a "$out/steps.log"; }
"$py" -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda,
  torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' | tee "$out/device.txt"

step "1. equality with the CPU reference and gradcheck on $dev"
"$py" -m bench verify --effects --device "$dev" --settings "${SETTINGS:-20}" \
  $([ "$dev" = cpu ] && echo --scan) | tee "$out/verify.md"
"$py" -m pytest -q -rs -p no:cacheprovider tests/gpu tests/dsp/test_scan.py tests/test_device.py \
  | tee "$out/pytest.txt"

step "2. bench perf --device $dev"
"$py" -m bench perf --device "$dev" $quick --results-dir "$out/results" \
  --reports-dir "$out/reports" --json "$out/perf.json" | tee "$out/perf.md"
"$py" -m bench data build --tier smoke --corpus speech | tee "$out/data.txt"
"$py" -m bench perf --steps --device "$dev" --budget smoke --step-tasks synthetic_speech \
  --repeats 3 --results-dir "$out/results" --reports-dir "$out/reports" \
  --json "$out/steps.json" | tee "$out/steps.md"

step "3. one smoke cell per gradient strategy with --device $dev"
"$py" -m bench run --budget smoke --task synthetic_speech --device "$dev" --no-progress \
  --strategy autodiff,spsa,neural_proxy,proxy_hybrid --results-dir "$out/results" \
  | tee "$out/run.txt"
"$py" -m bench report --results-dir "$out/results" --reports-dir "$out/reports" \
  | tee "$out/report.txt"
step "done: $out (runtime: $out/reports/runtime.md)"
