"""Filter hypernetwork proxy of linear effects: minimum-phase FIR, FFT convolution, linearity,
gradients, and which effects get it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.data import TrainingAudio
from bench.dsp.compressor import Compressor
from bench.dsp.peq import Peq
from strategies._proxy_config import PRETRAIN
from tests.strategies.conftest import SAMPLE_RATE
from tests.strategies.test_proxies import TINY, randomized, run_context

torch = pytest.importorskip("torch")
signal = pytest.importorskip("scipy.signal")

from strategies import _proxies, _proxy_store  # noqa: E402
from strategies._proxy_filters import (  # noqa: E402
    FilterHypernetwork,
    SectionResponse,
    fft_convolve,
    minimum_phase,
    sections,
)
from strategies._proxy_gain import GainComputer  # noqa: E402


def fir_proxy(seed: int = 0) -> _proxies.EffectProxy:
    """A randomly weighted tiny filter proxy of the EQ in float64."""
    return randomized(_proxies.build_network(Peq(), SAMPLE_RATE, "fir", TINY), seed).double()


def test_minimum_phase_recovers_a_minimum_phase_biquad():
    # an RBJ peaking band (+9 dB, 1 kHz, Q 2) is minimum phase: its impulse response is the
    # minimum-phase filter of its own magnitude
    rows = Peq().sos(np, _one_peak(), SAMPLE_RATE)[0]  # [b0, b1, b2, a1, a2] per section
    sos = np.c_[rows[:, :3], np.ones(len(rows)), rows[:, 3:]]
    n_fft, taps = 8192, 512
    _, response = signal.freqz_sos(sos, worN=np.linspace(0, np.pi, n_fft // 2 + 1))
    h = minimum_phase(torch.from_numpy(np.log(np.abs(response))[None]), taps)[0].numpy()
    impulse = np.zeros(taps)
    impulse[0] = 1
    exact = signal.sosfilt(sos, impulse)
    np.testing.assert_allclose(h, exact, atol=1e-9)


def _one_peak() -> dict[str, np.ndarray]:
    """Physical EQ values: every band flat but band 2 (+9 dB at 1 kHz, Q 2)."""
    values = {}
    for spec in Peq.params(SAMPLE_RATE):
        values[spec.name] = np.array([spec.default])
    values.update(band2_gain=np.array([9.0]), band2_cutoff=np.array([1000.0]),
                  band2_q=np.array([2.0]))
    return values


def test_fft_convolution_is_the_causal_convolution():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 997, generator=gen, dtype=torch.float64)
    h = torch.randn(3, 64, generator=gen, dtype=torch.float64)
    expected = np.stack([np.convolve(a, b)[:997] for a, b in zip(x.numpy(), h.numpy(),
                                                                  strict=True)])
    np.testing.assert_allclose(fft_convolve(x, h).numpy(), expected, atol=1e-12)


def test_proxy_output_is_the_convolution_with_its_own_impulse_response():
    proxy = fir_proxy()
    gen = torch.Generator().manual_seed(1)
    x = 0.3 * torch.randn(2, 500, generator=gen, dtype=torch.float64)
    p = torch.rand(2, 18, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        h = proxy.net.impulse_response(p).numpy()
        y = proxy(x, p).numpy()
    assert h.shape == (2, TINY.fir.taps) and not np.allclose(h[0], h[1])
    expected = np.stack([np.convolve(a, b)[:500] for a, b in zip(x.numpy(), h, strict=True)])
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-13)


def test_proxy_is_exactly_linear_and_level_equivariant():
    proxy = fir_proxy()
    gen = torch.Generator().manual_seed(2)
    x1, x2 = (0.3 * torch.randn(2, 400, generator=gen, dtype=torch.float64) for _ in range(2))
    p = torch.rand(2, 18, generator=gen, dtype=torch.float64)
    with torch.no_grad():
        y1, y2 = proxy(x1, p), proxy(x2, p)
        torch.testing.assert_close(proxy(2.5 * x1 - 0.7 * x2, p), 2.5 * y1 - 0.7 * y2,
                                   rtol=1e-10, atol=1e-12)
        for a in (1e-3, 20.0, -4.0):
            torch.testing.assert_close(proxy(a * x1, p), a * y1, rtol=1e-10, atol=1e-13)
        assert torch.equal(proxy(torch.zeros_like(x1), p), torch.zeros_like(x1))


def test_network_gradients_are_exact_in_float64():
    net = randomized(FilterHypernetwork(((0, 2), (1,)), TINY.fir, SAMPLE_RATE)).double()
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(2, 100, generator=gen, dtype=torch.float64, requires_grad=True)
    c = torch.rand(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(net, (x, c))


def test_one_coordinate_network_per_section_and_the_response_is_their_sum():
    assert sections(["a_gain", "b_gain", "a_q", "high_shelf_q"]) == ((0, 2), (1,), (3,))
    proxy = fir_proxy()
    groups = [list(g) for g in proxy.net.groups]
    assert groups == [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(6)]  # gain, cutoff, Q
    assert len(proxy.net.nets) == 6
    c = torch.rand(2, 18, dtype=torch.float64)
    changed = c.clone()
    changed[:, 3:6] = torch.rand(2, 3, dtype=torch.float64)  # band 1 only
    u = proxy.net.u.double()
    with torch.no_grad():
        torch.testing.assert_close(
            proxy.net.grid_log_magnitude(changed) - proxy.net.grid_log_magnitude(c),
            proxy.net.nets[1](changed[:, 3:6], u) - proxy.net.nets[1](c[:, 3:6], u))


def test_a_section_is_a_function_of_its_parameters_and_one_frequency_at_a_time():
    net = randomized(SectionResponse(3, TINY.fir)).double()
    c = torch.rand(4, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    u = torch.linspace(0, 1, 50, dtype=torch.float64)
    with torch.no_grad():
        full = net(c, u)
        assert full.shape == (4, 50)
        # any subset or order of frequencies gives the same values: no output basis over bins
        picked = torch.tensor([31, 2, 17])
        torch.testing.assert_close(net(c, u[picked]), full[:, picked])
        torch.testing.assert_close(net(c[2:3], u), full[2:3])
        assert not torch.allclose(full[0], full[1])


def test_the_gradient_reaches_every_parameter_from_the_initial_weights():
    torch.manual_seed(0)
    proxy = _proxies.build_network(Peq(), SAMPLE_RATE, "fir", TINY)
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(3, 400, generator=gen)
    p = torch.rand(3, 18, generator=gen, requires_grad=True)
    proxy(x, p).square().sum().backward()
    assert p.grad is not None and torch.isfinite(p.grad).all()
    assert (p.grad.abs() > 0).all()
    assert all(w.grad is not None and w.grad.abs().sum() > 0 for w in proxy.parameters())


@pytest.mark.parametrize("budget", ["smoke", "standard"])
def test_the_network_starts_near_the_identity(budget):
    torch.manual_seed(0)
    net = FilterHypernetwork(sections([s.name for s in Peq.params(SAMPLE_RATE)]),
                             PRETRAIN[budget].fir, SAMPLE_RATE)
    x = torch.randn(2, 300, generator=torch.Generator().manual_seed(4))
    c = torch.rand(2, 18, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        assert net.grid_log_magnitude(c).abs().max() < 0.5  # nepers: within ±4.3 dB
        y = net(x, c)
    assert (y - x).abs().max() < 0.5 * x.abs().max()


def test_the_spectral_loss_compares_log_spectra_whatever_the_level():
    loss = _proxies.SpectralLoss(_proxies.Pretraining(Peq(), SAMPLE_RATE, "fir", TINY,
                                                      np.zeros((2, 800), np.float32)), 800)
    gen = torch.Generator().manual_seed(7)
    target = torch.randn(3, 800, generator=gen, dtype=torch.float64)
    assert float(loss.distance(target, target)) == 0
    louder = float(loss.distance(2 * target, target))
    # a uniform gain of 2 is ln 2 nepers at every bin, squared (the floor bends it a little)
    assert louder == pytest.approx(np.log(2) ** 2, rel=0.05)
    for a in (1e-3, 50.0):  # the floor follows the target's level: only shapes count
        assert float(loss.distance(a * 2 * target, a * target)) == pytest.approx(louder)
    filtered = torch.from_numpy(signal.lfilter([1, 0.5], [1], target.numpy()))
    assert float(loss.distance(filtered, target)) > 0.01


def test_the_filter_proxy_trains_on_its_own_schedule_and_spectral_loss(audio):
    fir_train = dataclasses.replace(TINY.train, steps=7, lr=1e-3)
    cfg = dataclasses.replace(TINY, fir_train=fir_train)
    fir = _proxies.Pretraining(Peq(), SAMPLE_RATE, "fir", cfg, audio)
    tcn = _proxies.Pretraining(Compressor(), SAMPLE_RATE, "tcn", cfg, audio)
    assert fir.cfg.train == fir_train and tcn.cfg.train == TINY.train
    assert fir.key()["train"] == dataclasses.asdict(fir_train)
    assert tcn.key()["train"] == dataclasses.asdict(TINY.train)  # other proxies' keys unchanged
    standard = PRETRAIN["standard"]
    assert standard.key("gain")["train"] == dataclasses.asdict(standard.train)
    assert standard.key("fir")["train"] == dataclasses.asdict(standard.fir_train)
    trainer = _proxies.Pretrainer(_proxies.build_network(Peq(), SAMPLE_RATE, "fir", cfg), fir)
    assert type(trainer.loss_fn) is _proxies.SpectralLoss
    compressor = _proxies.build_network(Compressor(), SAMPLE_RATE, "tcn", cfg)
    assert type(_proxies.Pretrainer(compressor, tcn).loss_fn) is _proxies.PatchLoss


def test_a_smoke_filter_proxy_pretrains_and_is_measured(audio, tmp_path):
    job = _proxies.Pretraining(Peq(), SAMPLE_RATE, "fir", TINY, audio)
    with torch.random.fork_rng():
        torch.manual_seed(_proxies.PRETRAIN_SEED)
        fresh = _proxies.build_network(Peq(), SAMPLE_RATE, "fir", TINY)
    proxy, meta = _proxies.pretrained_proxy(job, tmp_path)
    assert meta["pretrain_steps"] == TINY.train.steps
    assert not all(torch.equal(a, b) for a, b in zip(fresh.state_dict().values(),
                                                     proxy.state_dict().values(), strict=True))
    assert all(np.isfinite(meta[k]) for k in ("val_loss_after", "mrstft", "lufs_error", "rtf",
                                              "grad_cosine_median",
                                              "grad_cosine_learned_median"))


def test_linear_and_dynamics_effects_get_their_structured_proxy_whatever_the_arch(
        chain, audio, tmp_path):
    assert _proxies.effect_arch("peq", "tcn") == "fir"
    assert _proxies.effect_arch("peq", "hypergru") == "fir"
    assert _proxies.effect_arch("compressor", "hypergru") == "gain"
    assert _proxies.effect_arch("distortion", "hypergru") == "shaper"
    # black boxes whose host documents the same structure get the same proxies
    assert [_proxies.effect_arch(e, "tcn") for e in ("pb_peq", "zam_eq2", "pb_compressor",
                                                     "zam_comp", "pb_distortion", "pb_delay",
                                                     "pb_reverb")] == [
        "fir", "fir", "gain", "gain", "shaper", "tcn", "tcn"]
    ctx = run_context(tmp_path)
    layer = _proxy_store.proxy_chain(chain, SAMPLE_RATE, ctx, TrainingAudio("test", audio), "tcn")
    eq, compressor = layer.distinct()
    assert isinstance(eq.net, FilterHypernetwork) and isinstance(compressor.net, GainComputer)
    assert [job.arch for job in layer.jobs] == ["fir", "gain"]
    assert {k: v["arch"] for k, v in ctx.extra["proxies"].items()} == {"peq": "fir",
                                                                      "compressor": "gain"}
    assert _proxies.convolution_floor(eq, batch=2, samples=500) is None


def test_the_filter_proxy_refuses_a_nonlinear_effect():
    with pytest.raises(ValueError, match="'compressor', which is not linear"):
        _proxies.build_network(Compressor(), SAMPLE_RATE, "fir", TINY)
