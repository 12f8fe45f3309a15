"""Filter hypernetwork proxy of linear effects: minimum-phase FIR, FFT convolution, linearity,
gradients, and which effects get it."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import TrainingAudio
from bench.dsp.compressor import Compressor
from bench.dsp.peq import Peq
from tests.strategies.conftest import SAMPLE_RATE
from tests.strategies.test_proxies import TINY, randomized, run_context

torch = pytest.importorskip("torch")
signal = pytest.importorskip("scipy.signal")

from strategies import _proxies, _proxy_store  # noqa: E402
from strategies._proxy_filters import (  # noqa: E402
    FilterHypernetwork,
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


def test_one_mlp_per_section_and_the_response_is_their_sum():
    assert sections(["a_gain", "b_gain", "a_q", "high_shelf_q"]) == ((0, 2), (1,), (3,))
    proxy = fir_proxy()
    groups = [list(g) for g in proxy.net.groups]
    assert groups == [[3 * i, 3 * i + 1, 3 * i + 2] for i in range(6)]  # gain, cutoff, Q
    c = torch.rand(2, 18, dtype=torch.float64)
    changed = c.clone()
    changed[:, 3:6] = torch.rand(2, 3, dtype=torch.float64)  # band 1 only
    with torch.no_grad():
        torch.testing.assert_close(
            proxy.net.grid_log_magnitude(changed) - proxy.net.grid_log_magnitude(c),
            proxy.net.mlps[1](changed[:, 3:6]) - proxy.net.mlps[1](c[:, 3:6]))


def test_the_network_starts_near_the_identity():
    net = FilterHypernetwork(sections([s.name for s in Peq.params(SAMPLE_RATE)]), TINY.fir,
                             SAMPLE_RATE)
    x = torch.randn(2, 300, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        y = net(x, torch.rand(2, 18))
    assert (y - x).abs().max() < 0.5 * x.abs().max()


def test_linear_and_dynamics_effects_get_their_structured_proxy_whatever_the_arch(
        chain, audio, tmp_path):
    assert _proxies.effect_arch("peq", "tcn") == "fir"
    assert _proxies.effect_arch("peq", "hypergru") == "fir"
    assert _proxies.effect_arch("compressor", "hypergru") == "gain"
    assert _proxies.effect_arch("distortion", "hypergru") == "shaper"
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
