"""Neural proxies: receptive field, HyperGRU, pre-training cache, hybrid gradients, strategies."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.base import Counters, RunContext
from bench.budgets import BUDGETS
from bench.data import TrainingAudio
from bench.dsp.compressor import Compressor
from bench.dsp.peq import Peq
from strategies._proxy_config import (
    PRETRAIN,
    FirConfig,
    GainConfig,
    GruConfig,
    ProxyConfig,
    ShaperConfig,
    TcnConfig,
    TrainConfig,
)
from tests.conftest import ROOT
from tests.strategies.conftest import SAMPLE_RATE

torch = pytest.importorskip("torch")

from strategies import _proxies  # noqa: E402
from strategies._proxy_nets import (  # noqa: E402
    ConditionalTcn,
    HyperGru,
    matched_dilations,
    receptive_field,
)

TINY = ProxyConfig(
    tcn=TcnConfig(channels=4, kernel=3, blocks=3, growth=4, cond_dim=8),
    gru=GruConfig(hidden=4, channels=4, frame_seconds=0.004, sample_kernel=5, cond_dim=8),
    fir=FirConfig(hidden=8, layers=2, heads=2, cond_hidden=8, bins=16, taps=64, min_hz=10.0),
    gain=GainConfig(hop_seconds=0.002, channels=4, kernel=3, blocks=3, growth=4, cond_dim=8),
    train=TrainConfig(steps=40, batch=2, patch_seconds=0.1, lr=3e-3, grad_clip=10.0,
                      l1_weight=100.0, fft_sizes=(64, 256, 1024), peak_db=(-30.0, -6.0),
                      heldout_fraction=0.2, eval_clips=2),
    shaper=ShaperConfig(hidden=6, layers=2, cond_dim=8, knots=29,
                        fir=FirConfig(hidden=8, layers=2, heads=2, cond_hidden=8, bins=16, taps=64,
                                      min_hz=10.0)),
)


def randomized(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """``module`` with every weight redrawn N(0, 0.3²): no zero-initialised (identity) layers."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(0.3 * torch.randn(p.shape, generator=gen))
    return module


def tiny_proxies(chain, counters: Counters) -> _proxies.ProxyChain:
    """Randomly weighted (untrained) tiny proxies of ``chain``'s effects, frozen."""
    proxies = [randomized(_proxies.build_network(e, SAMPLE_RATE, "tcn", TINY), seed=i)
               for i, e in enumerate(chain.effects)]
    for p in proxies:
        p.requires_grad_(False).eval()
    return _proxies.ProxyChain(proxies, counters)


def test_receptive_field_formula_matches_deepafx_and_impulse_response():
    assert receptive_field(13, (1, 8, 64, 512)) == 7021  # DeepAFx-ST's 292.5 ms at 24 kHz
    cfg = TcnConfig(channels=3, kernel=3, blocks=3, growth=2, cond_dim=4)
    dilations = matched_dilations(3, 3, 2, 40)
    rf = receptive_field(3, dilations)
    assert rf >= 40
    net = randomized(ConditionalTcn(2, cfg, dilations)).double()
    x, c = torch.zeros(1, 3 * rf, dtype=torch.float64), torch.rand(1, 2, dtype=torch.float64)
    impulse = x.clone()
    impulse[0, 0] = 1.0
    with torch.no_grad():
        changed = (net(impulse, c) - net(x, c)).abs()[0] > 1e-12
    assert changed[rf - 1] and not changed[rf:].any()


@pytest.mark.parametrize("budget", sorted(PRETRAIN))
def test_compressor_tcn_sees_300_ms_at_the_budget_rate(budget):
    sr = BUDGETS[budget].sample_rate
    proxy = _proxies.build_network(Compressor(), sr, "tcn", PRETRAIN[budget])
    assert 0.3 <= proxy.net.receptive_field / sr < 0.32


def test_hypergru_generates_recurrent_weights_from_params():
    net = HyperGru(3, TINY.gru, SAMPLE_RATE)
    c = torch.tensor([[0.1, 0.5, 0.9], [0.8, 0.2, 0.3]])
    w_ih, w_hh, _ = net.recurrent_layer(c).weights
    assert w_hh.shape == (2, 3 * TINY.gru.hidden, TINY.gru.hidden)
    assert not torch.allclose(w_hh[0], w_hh[1]) and not torch.allclose(w_ih[0], w_ih[1])
    x = torch.randn(2, 1000)
    y = randomized(net)(x, c)
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_makeup_gain_is_analytic_and_p_is_not_modified():
    proxy = randomized(_proxies.build_network(Compressor(), SAMPLE_RATE, "tcn", TINY))
    p = torch.full((1, 6), 0.5)
    louder = p.clone()
    louder[0, 5] = Compressor.params(SAMPLE_RATE)[5].to_normalized(6.0)
    saved = louder.clone()
    x = torch.randn(1, 800)
    with torch.no_grad():
        ratio = proxy(x, louder) / proxy(x, p)
    torch.testing.assert_close(ratio, torch.full_like(ratio, 10 ** (6 / 20)))
    assert torch.equal(louder, saved)
    assert proxy.net.cond[0].in_features == 5  # not conditioned on the makeup gain


@pytest.mark.parametrize("arch", ["tcn", "hypergru"])
def test_eq_proxy_is_exactly_level_equivariant_and_the_compressor_is_not(arch):
    # the EQ is linear: its proxy must be too, whatever the (random, biased) weights
    x = 0.3 * torch.randn(2, 600, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    for effect, equivariant in ((Peq(), True), (Compressor(), False)):
        proxy = randomized(_proxies.build_network(effect, SAMPLE_RATE, arch, TINY)).double()
        p = torch.rand(2, effect.n_params, generator=torch.Generator().manual_seed(2),
                       dtype=torch.float64)
        with torch.no_grad():
            y = proxy(x, p)
            for a in (1e-3, 20.0):
                close = torch.allclose(proxy(a * x, p), a * y, rtol=1e-9, atol=1e-12)
                assert close == equivariant, (effect.name, a)
            if equivariant:
                assert torch.equal(proxy(torch.zeros_like(x), p), torch.zeros_like(x))


def job(clips: np.ndarray, **changes) -> _proxies.Pretraining:
    """A tiny compressor pre-training job on ``clips`` with ``changes`` to its fields."""
    fields = {"effect": Compressor(), "sample_rate": SAMPLE_RATE, "arch": "tcn", "cfg": TINY,
              "audio": clips, **changes}
    return _proxies.Pretraining(**fields)


def test_pretraining_learns_and_the_cache_is_reused(audio, tmp_path):
    first, meta = _proxies.pretrained_proxy(job(audio), tmp_path)
    assert not meta["reused"] and meta["pretrain_steps"] == TINY.train.steps
    assert meta["val_loss_after"] < 0.9 * meta["val_loss_before"]
    assert all(np.isfinite(meta[k]) for k in ("mrstft", "lufs_error", "rtf"))
    again, meta2 = _proxies.pretrained_proxy(job(audio), tmp_path)
    assert meta2 == {**meta, "reused": True}
    for a, b in zip(first.state_dict().values(), again.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not any(p.requires_grad for p in again.parameters()) and not again.training


@pytest.mark.parametrize("change", ["data", "effect", "sample_rate", "arch", "config",
                                    "version"])
def test_any_key_part_change_rebuilds(audio, tmp_path, monkeypatch, change):
    fast = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, steps=2))
    _proxies.pretrained_proxy(job(audio, cfg=fast), tmp_path)
    changes = {"data": {"audio": audio[::-1].copy()}, "effect": {"effect": Peq()},
               "sample_rate": {"sample_rate": 8000}, "arch": {"arch": "hypergru"},
               "config": {"cfg": dataclasses.replace(
                   fast, train=dataclasses.replace(fast.train, lr=1e-3))},
               "version": {}}[change]
    if change == "version":
        monkeypatch.setattr(_proxies, "PROXY_VERSION", "test")
    _, meta = _proxies.pretrained_proxy(job(audio, **{"cfg": fast, **changes}), tmp_path)
    assert not meta["reused"]


def test_hybrid_forward_is_the_dsp_and_gradient_is_the_proxys(chain):
    counters = Counters()
    layer = _proxies.HybridLayer(tiny_proxies(chain, counters), chain, SAMPLE_RATE)
    rng = np.random.default_rng(3)
    x = torch.from_numpy((0.3 * rng.standard_normal((3, 2000))).astype(np.float32))
    p = torch.from_numpy(rng.uniform(size=(3, chain.n_params))).float().requires_grad_()
    weights = torch.randn(3, 2000)
    y = layer(x, p)
    assert torch.equal(y, torch.from_numpy(chain.process(x.numpy(), p.detach().numpy(),
                                                         SAMPLE_RATE)))
    (grad_hybrid,) = torch.autograd.grad((y * weights).sum(), p)
    (grad_proxy,) = torch.autograd.grad((layer.proxies(x, p) * weights).sum(), p)
    torch.testing.assert_close(grad_hybrid, grad_proxy)
    assert grad_hybrid.abs().sum() > 0
    assert counters.dsp_evals == 3 and counters.grad_estimates == 6  # two backward passes
    with torch.no_grad():
        layer(x, p)
    assert counters.dsp_evals == 6 and counters.grad_estimates == 6


def test_frozen_proxies_stay_in_eval_mode_without_batchnorm(chain):
    proxies = tiny_proxies(chain, Counters())
    proxies.train()
    assert not any(m.training for m in proxies.proxies.modules())
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                   for m in proxies.modules())


def run_context(tmp_path: Path) -> RunContext:
    """A smoke-budget context caching under ``tmp_path``."""
    return RunContext(budget=BUDGETS["smoke"], seed=0, split="val", results_dir=tmp_path,
                      cache_dir=tmp_path / "cache", progress=False)


@pytest.mark.parametrize("strategy", ["neural_proxy", "proxy_hybrid"])
def test_strategies_report_proxies_and_render_finite_audio(strategy, chain, audio, tmp_path):
    from bench.registry import registry

    cls = registry("strategy").get(strategy)
    ctx = run_context(tmp_path)
    x = audio[:2]
    p = np.random.default_rng(0).uniform(size=(2, chain.n_params))
    outputs = []
    for params in ({}, {"arch": "hypergru"}):
        s = cls(**params)
        layer = s.effect_layer(chain, SAMPLE_RATE, ctx, TrainingAudio("test", audio))
        report = ctx.extra["proxies"]
        assert set(report) == {"peq", "compressor"}
        for r in report.values():
            assert {"mrstft", "lufs_error", "rtf", "pretrain_s", "pretrain_steps",
                    "reused"} <= set(r)
        y = s.infer_audio(layer, chain, x, p, SAMPLE_RATE, ctx)
        assert y.shape == x.shape and y.dtype == x.dtype and np.isfinite(y).all()
        outputs.append(y)
    dsp = chain.process(x, p, SAMPLE_RATE)
    assert (strategy == "proxy_hybrid") == np.array_equal(outputs[0], dsp)
    assert ctx.counters.dsp_evals == (4 if strategy == "proxy_hybrid" else 0)


def test_neural_proxy_half_hybrid_renders_with_the_dsp(chain, audio, tmp_path):
    from strategies.neural_proxy import NeuralProxy

    ctx = run_context(tmp_path)
    s = NeuralProxy(dsp_inference=True)
    layer = s.effect_layer(chain, SAMPLE_RATE, ctx, TrainingAudio("test", audio))
    p = np.full((2, chain.n_params), 0.5)
    assert np.array_equal(s.infer_audio(layer, chain, audio[:2], p, SAMPLE_RATE, ctx),
                          chain.process(audio[:2], p, SAMPLE_RATE))
    assert ctx.counters.dsp_evals == 2


def test_pretraining_is_deterministic(audio, tmp_path):
    a, meta_a = _proxies.pretrained_proxy(job(audio), tmp_path / "a")
    b, meta_b = _proxies.pretrained_proxy(job(audio), tmp_path / "b")
    for u, v in zip(a.state_dict().values(), b.state_dict().values(), strict=True):
        assert torch.equal(u, v)
    for key in ("val_loss_after", "mrstft", "lufs_error"):
        assert meta_a[key] == meta_b[key]


def test_strategy_modules_do_not_import_torch():
    code = ("import sys, strategies.neural_proxy, strategies.proxy_hybrid; "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
