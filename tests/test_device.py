"""`--device`: resolving it (one-line errors where it is not here), naming it in the results,
and the counted transfers between a device and the CPU."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench import device, env
from bench.base import Counters
from bench.errors import BenchError
from tests.conftest import bench_cmd
from tests.faults.test_hostile import TOY, one_line_error

NO_CUDA = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA GPU: auto picks it")
def test_auto_is_the_cpu_without_a_gpu_and_cuda_is_an_error_that_says_what_to_pass():
    assert device.resolve("auto") == device.resolve("CPU") == "cpu"
    for spec in ("cuda", "cuda:1"):
        with pytest.raises(BenchError, match=f"--device {spec}: CUDA is not available here.*"
                                             "use --device cpu, or --device auto"):
            device.resolve(spec)


def test_a_device_that_is_no_device_lists_the_choices():
    with pytest.raises(BenchError, match="'tpu' is not a device: give auto, cpu, cuda or cuda:N"):
        device.resolve("tpu")


@pytest.mark.skipif(not NO_CUDA, reason="this machine has a CUDA GPU")
def test_run_with_cuda_and_no_gpu_fails_in_one_line_and_writes_nothing(tmp_path):
    out = bench_cmd(*TOY, "--device", "cuda", cwd=tmp_path)
    one_line_error(out, "--device cuda: CUDA is not available here", "--device cpu")
    assert not (tmp_path / "results").exists()


def test_rows_name_the_device_and_a_gpu_gets_its_own_machine_id(tmp_path):
    from bench.results import read_results

    out = bench_cmd(*TOY, "--device", "auto", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    rows = read_results(tmp_path / "results")
    assert set(rows.device) == {device.name(device.resolve("auto"))}
    assert env.machine_id("cpu") == env.machine_id()  # CPU runs keep their machine id
    assert env.machine_id("cuda:0 (NVIDIA H200)") == env.machine_id() + "+cuda_0_NVIDIA_H200"


def test_transfers_are_counted_off_the_cpu_only():
    counters, a = Counters(), np.arange(6.0).reshape(2, 3)
    on_cpu = device.to_device(a, "cpu", counters, torch.float32)
    assert on_cpu.dtype == torch.float32 and on_cpu.tolist() == a.tolist()
    assert device.to_host(on_cpu, counters).tolist() == a.tolist()
    assert counters.transfers == counters.transfer_bytes == 0
    elsewhere = device.to_device(a, "meta", counters, torch.float32)  # a device that is not here
    assert elsewhere.device.type == "meta" and elsewhere.shape == (2, 3)
    assert (counters.transfers, counters.transfer_bytes) == (1, 6 * 4)


def test_a_module_is_where_its_weights_are():
    assert device.of(torch.nn.Linear(2, 2)).type == "cpu"
    assert device.of(torch.nn.Linear(2, 2, device="meta")).type == "meta"
    assert device.of(torch.nn.Identity()).type == "cpu"
