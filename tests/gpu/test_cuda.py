"""The device path on a real GPU: the exact effects equal the CPU reference and pass gradcheck
in float64 on CUDA, transfers are pinned and counted, and every gradient strategy's effect layer
trains on CUDA. Skipped where there is no GPU (the CPU tests run the same code: tests/dsp/
test_scan.py forces the scans on CPU tensors); scripts/gpu_check.sh runs these on a GPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench import device
from bench.base import Counters
from bench.dsp import get_effect
from bench.dsp.verify import Placement, check_settings

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="no CUDA GPU on this machine: the GPU-only checks run "
                                       "where there is one (scripts/gpu_check.sh)")


@pytest.mark.parametrize("name", ["peq", "compressor", "distortion", "delay", "reverb"])
def test_effects_on_cuda_equal_the_cpu_reference_and_pass_gradcheck(name):
    effect, rng = get_effect(name), np.random.default_rng(0)
    result = check_settings(effect, rng.uniform(size=(4, effect.n_params)), rng, 24000,
                            Placement("cuda"), seconds=0.5)
    assert result.passed, result.failures
    assert result.rel_error_f64 <= 1e-9 and result.grad_passed == result.grad_total > 0


def test_transfers_are_pinned_round_trips_and_counted():
    counters, a = Counters(), np.random.default_rng(0).standard_normal((4, 1000))
    t = device.to_device(a, "cuda", counters, torch.float32)
    assert t.device.type == "cuda" and t.dtype == torch.float32
    back = device.to_host(t * 2, counters)
    assert np.allclose(back, 2 * a.astype(np.float32))
    assert (counters.transfers, counters.transfer_bytes) == (2, 2 * 4000 * 4)


def test_every_gradient_strategy_steps_on_cuda(tmp_path):
    from bench.step_scaling import time_steps

    steps = time_steps((0.25,), sample_rate=16000, batch=2, repeats=1,
                       cache_dir=tmp_path, device=device.resolve("cuda"), loss="deepafx")
    assert {"autodiff", "spsa", "neural_proxy", "proxy_hybrid"} <= set(steps)
    for name, entry in steps.items():
        assert entry["error"] is None and entry["step_s"][0] > 0, name
