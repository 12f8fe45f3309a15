"""Committed proxies: built to gates or a CPU limit, saved with checksum and fidelity curve,
loaded by standard runs (never retrained), refused when missing, outdated or tampered."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from bench.base import RunContext
from bench.budgets import BUDGETS
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.errors import BenchError
from tests.conftest import bench_cmd
from tests.strategies.conftest import SAMPLE_RATE, clips
from tests.strategies.test_proxies import TINY
from tests.strategies.test_proxies import job as any_job

torch = pytest.importorskip("torch")

from strategies import _proxies, _proxy_config, _proxy_store  # noqa: E402


def job(clips, **changes) -> _proxies.Pretraining:
    """The tiny compressor job with the architecture a run gives a compressor: the gain computer."""
    return any_job(clips, **{"arch": "gain", **changes})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One tiny compressor proxy committed for the domain "test" (built once per module)."""
    root = tmp_path_factory.mktemp("store") / "proxies"
    torch.set_num_threads(1)
    meta = _proxy_store.build_committed(job(clips()), "test", root, minutes=5, eval_every=10,
                                        progress=False)
    return root, meta


@pytest.fixture
def committed(built, tmp_path):
    """A private copy of the committed proxy directory (tests may damage it)."""
    root = tmp_path / "proxies"
    shutil.copytree(built[0], root)
    return root, built[1]


def test_build_records_the_fidelity_curve_and_the_gates(committed, audio):
    root, meta = committed
    assert meta["stopped"] in ("steps", "gates")
    assert [p["step"] for p in meta["curve"]][:3] == [10, 20, 30]
    assert meta["curve"][-1]["step"] == meta["steps_run"]
    for point in meta["curve"]:
        assert set(_proxy_store.GATES) <= set(point) and point["cpu_s"] > 0
    assert meta["gates"] == _proxy_store.gates(meta)
    assert meta["gates_pass"] == all(meta["gates"].values())
    assert meta["gate_streak"] == _proxy_store.gate_streak(meta["curve"])
    if meta["stopped"] == "gates":
        assert meta["gate_streak"] >= _proxy_store.GATE_STREAK
    assert meta["data"] == _proxies.fingerprint(audio)
    row, = _proxy_store.status(root)
    assert (row["effect"], row["domain"], row["arch"]) == ("compressor", "test", "gain")
    assert row["mrstft"] == meta["mrstft"] and row["steps_run"] == meta["steps_run"]


def test_gates_need_every_figure_and_the_learned_parameter_cosine():
    good = {"lufs_error": 0.5, "mrstft": 0.3, "grad_cosine_median": 0.97,
            "grad_cosine_learned_median": 0.9}
    assert all(_proxy_store.gates(good).values())
    flattered = {**good, "grad_cosine_learned_median": -0.2}
    assert _proxy_store.gates(flattered) == {**dict.fromkeys(good, True),
                                             "grad_cosine_learned_median": False}
    missing = {k: v for k, v in good.items() if k != "mrstft"}
    assert not _proxy_store.gates(missing)["mrstft"]
    assert not _proxy_store.gates({**good, "lufs_error": float("nan")})["lufs_error"]


def test_one_passing_measurement_is_not_a_streak():
    """Building stops only when every gate held at the last ``GATE_STREAK`` measurements."""
    good = {"lufs_error": 0.5, "mrstft": 0.3, "grad_cosine_median": 0.97,
            "grad_cosine_learned_median": 0.9}
    lucky = {**good, "lufs_error": 2.2}
    assert _proxy_store.gate_streak([]) == 0
    assert _proxy_store.gate_streak([lucky, good]) == 1
    assert _proxy_store.gate_streak([good, lucky]) == 0
    assert _proxy_store.gate_streak([lucky, good, good]) == 2 == _proxy_store.GATE_STREAK


def test_time_limit_stops_the_build_and_says_so(audio, tmp_path):
    meta = _proxy_store.build_committed(job(audio), "test", tmp_path, minutes=1e-6,
                                        eval_every=1000, progress=False)
    assert meta["stopped"] == "time" and meta["steps_run"] == 1
    assert len(meta["curve"]) == 1


def test_committed_proxy_loads_with_the_same_weights(committed, audio):
    root, meta = committed
    proxy, loaded = _proxy_store.load_committed(job(audio), "test", root)
    assert loaded["mrstft"] == meta["mrstft"] and loaded["reused"]
    assert not any(p.requires_grad for p in proxy.parameters())
    assert _proxy_store.is_current(job(audio), "test", root)
    # the committed proxy does not depend on the data fingerprint: other audio loads it too
    _proxy_store.load_committed(job(audio[::-1].copy()), "test", root)


def test_confirming_measures_the_committed_proxy_on_other_clips(committed, audio):
    root, meta = committed
    unseen = audio[::-1].copy() * 0.5
    figures = _proxy_store.confirm(job(unseen), "test", root)
    assert 0 < figures["mrstft"] and figures["heldout_clips"] == min(len(unseen),
                                                                     TINY.train.eval_clips)
    assert figures["mrstft"] != meta["mrstft"]  # other clips, other figures
    assert figures["gates"] == _proxy_store.gates(figures)
    assert figures["gates_pass"] == all(figures["gates"].values())


def test_missing_outdated_and_tampered_proxies_are_errors_naming_the_fix(committed, audio):
    root, _ = committed
    with pytest.raises(BenchError, match=r"no committed gain proxy of compressor for music.*"
                                         r"proxies build --domain music --effect compressor"):
        _proxy_store.load_committed(job(audio), "music", root)
    bigger = dataclasses.replace(TINY, gain=dataclasses.replace(TINY.gain, channels=6))
    assert not _proxy_store.is_current(job(audio, cfg=bigger), "test", root)
    with pytest.raises(BenchError, match=r"cannot be used.*other parts"):
        _proxy_store.load_committed(job(audio, cfg=bigger), "test", root)
    weights = _proxy_store.committed_path(root, "test", "compressor", "gain")
    weights.write_bytes(weights.read_bytes()[:-8] + b"\0" * 8)
    with pytest.raises(BenchError, match="checksum mismatch"):
        _proxy_store.load_committed(job(audio), "test", root)


def test_a_standard_run_loads_committed_proxies_and_never_trains(committed, audio, tmp_path,
                                                                 monkeypatch):
    root, meta = committed
    monkeypatch.setenv(_proxy_store.PROXIES_ENV, str(root))
    monkeypatch.setitem(_proxy_config.PRETRAIN, "standard", TINY)

    def no_training(*args, **kwargs):
        raise AssertionError("a standard run pre-trained a proxy")

    monkeypatch.setattr(_proxies, "pretrained_proxy", no_training)
    ctx = RunContext(budget=BUDGETS["standard"], seed=0, split="val", results_dir=tmp_path,
                     cache_dir=tmp_path / "cache", progress=False)
    chain = Chain(["compressor"])
    layer = _proxy_store.proxy_chain(chain, SAMPLE_RATE, ctx, TrainingAudio("test", audio), "tcn")
    assert ctx.extra["proxies"]["compressor"]["mrstft"] == meta["mrstft"]
    assert "curve" not in ctx.extra["proxies"]["compressor"]  # the run keeps the figures only
    x = torch.from_numpy(audio[:2])
    assert torch.isfinite(layer(x, torch.full((2, chain.n_params), 0.5))).all()
    # the EQ is linear: a tcn run asks for its filter proxy, built without --arch
    with pytest.raises(BenchError, match=r"no committed fir proxy of peq for test.*"
                                         r"--domain test --effect peq`"):
        _proxy_store.proxy_chain(Chain(["peq"]), SAMPLE_RATE, ctx, TrainingAudio("test", audio),
                             "tcn")


def test_status_command_lists_proxies_as_json_and_refuses_an_empty_directory(committed,
                                                                             tmp_path):
    root, meta = committed
    out = bench_cmd("proxies", "status", "--json", "--proxies-dir", str(root), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    row, = json.loads(out.stdout)
    assert {"effect", "domain", "arch", "lufs_error", "mrstft", "grad_cosine_median",
            "gates_pass"} <= set(row)
    assert row["mrstft"] == pytest.approx(meta["mrstft"])
    assert row["gates_pass"] is meta["gates_pass"]
    table = bench_cmd("proxies", "status", "--proxies-dir", str(root), cwd=tmp_path).stdout
    assert "compressor" in table and "gates:" in table
    empty = bench_cmd("proxies", "status", "--proxies-dir", str(tmp_path / "none"),
                      cwd=tmp_path)
    assert empty.returncode != 0 and "proxies build" in empty.stderr
    assert not (tmp_path / "none").exists()


def test_fidelity_report_tables_and_draws_every_committed_proxy(committed):
    from strategies._proxy_report import fidelity_report

    root, meta = committed
    fidelity_report(root)
    assert (root / "fidelity.png").stat().st_size > 5000
    table = (root / "fidelity.md").read_text()
    assert "compressor" in table and str(meta["steps_run"]) in table and "gates:" in table


def test_build_command_rejects_unknown_names(tmp_path):
    out = bench_cmd("proxies", "build", "--effect", "eq", "--proxies-dir", str(tmp_path / "p"),
                    cwd=tmp_path)
    assert out.returncode != 0 and "--effect: unknown 'eq'" in out.stderr
    assert not (tmp_path / "p").exists()
