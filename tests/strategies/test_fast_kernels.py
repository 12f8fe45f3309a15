"""Equivalence of the speed-ups in the proxy networks: same outputs and gradients as the plain
torch operations they replace (timing lives in `python -m bench perf --steps`, not here)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.dsp.peq import Peq  # noqa: E402
from bench.dsp.reverb import Reverb  # noqa: E402
from strategies import _architectures, _proxies  # noqa: E402
from strategies._proxy_nets import DilatedConv, FilmPreluAdd, conv, film  # noqa: E402
from tests.strategies.conftest import SAMPLE_RATE  # noqa: E402
from tests.strategies.test_proxies import TINY, randomized  # noqa: E402

F = torch.nn.functional


@pytest.mark.parametrize("dilation", [1, 3, 17])
def test_dilated_conv_passes_gradcheck_in_float64(dilation):
    gen = torch.Generator().manual_seed(dilation)
    x = torch.randn(2, 3, 60, dtype=torch.float64, generator=gen, requires_grad=True)
    w = torch.randn(4, 3, 3, dtype=torch.float64, generator=gen, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(lambda *a: DilatedConv.apply(*a, dilation), (x, w, b))


@pytest.mark.parametrize("dilation", [1, 8, 64])
def test_dilated_conv_equals_torch_conv_in_float32(dilation):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 16, 2000, generator=gen)
    w, b = 0.1 * torch.randn(16, 16, 7, generator=gen), torch.randn(16, generator=gen)
    grad = torch.randn(3, 16, 2000 - 6 * dilation, generator=gen)
    results = []
    for fn in (lambda *a: F.conv1d(*a, dilation=dilation),
               lambda *a: DilatedConv.apply(*a, dilation)):
        leaves = [t.clone().requires_grad_(True) for t in (x, w, b)]
        y = fn(*leaves)
        y.backward(grad)
        results.append([y.detach(), *(t.grad for t in leaves)])
    for ours, theirs in zip(results[1], results[0], strict=True):
        # float32 rounding of sums over 16 × 7 (x) or ~30k (weight) terms
        torch.testing.assert_close(ours, theirs, rtol=1e-4, atol=1e-4 * theirs.abs().max())


def test_dilated_conv_computes_only_the_gradients_asked_for():
    x = torch.randn(1, 2, 50, requires_grad=True)
    w = torch.randn(2, 2, 3)
    DilatedConv.apply(x, w, None, 2).sum().backward()
    assert x.grad is not None and w.grad is None


def _film_inputs(dtype, seed=0, length=300):
    gen = torch.Generator().manual_seed(seed)
    c = torch.randn(2, 3, length, dtype=dtype, generator=gen)
    gamma_beta = 0.5 * torch.randn(2, 6, dtype=dtype, generator=gen)
    slope = torch.tensor([0.25, -0.5, 1.5], dtype=dtype)
    r = torch.randn(2, 3, length, dtype=dtype, generator=gen)
    return [t.requires_grad_(True) for t in (c, gamma_beta, slope, r)]


def test_fused_film_prelu_add_passes_gradcheck_in_float64():
    assert torch.autograd.gradcheck(FilmPreluAdd.apply, _film_inputs(torch.float64, length=40))


def test_fused_film_prelu_add_equals_the_torch_ops_in_float32():
    grad = torch.randn(2, 3, 5000, generator=torch.Generator().manual_seed(9))
    results = []
    for fn in (lambda c, gb, a, r: F.prelu(film(c, gb[..., None]), a) + r, FilmPreluAdd.apply):
        leaves = _film_inputs(torch.float32, seed=1, length=5000)
        y = fn(*leaves)
        y.backward(grad)
        results.append([y.detach(), *(t.grad for t in leaves)])
    for ours, theirs in zip(results[1], results[0], strict=True):
        # the γ, β and slope gradients sum 5000 float32 terms in another order
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5 * theirs.abs().max())


@pytest.mark.parametrize("bias", [False, True])
def test_pointwise_conv_as_matrix_product_equals_torch_conv(bias):
    torch.manual_seed(3)
    layer = torch.nn.Conv1d(4, 5, 1, bias=bias)
    x = torch.randn(2, 4, 90)[..., 7:]  # a cropped view, as the residual path passes
    grads = []
    for fast in (False, True):
        xx = x.detach().clone().requires_grad_(True)
        y = conv(layer, xx, fast)
        y.square().sum().backward()
        grads.append((y.detach(), xx.grad, layer.weight.grad.clone()))
        layer.zero_grad()
    for ours, theirs in zip(grads[1], grads[0], strict=True):
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)


def test_film_is_the_fused_form_of_scale_and_shift():
    gen = torch.Generator().manual_seed(1)
    x, gb = torch.randn(2, 4, 30, generator=gen), torch.randn(2, 8, 1, generator=gen)
    gamma, beta = gb.chunk(2, dim=1)
    torch.testing.assert_close(film(x, gb), x * (1 + gamma) + beta)


def test_tcn_proxy_with_fast_kernels_matches_plain_torch_output_and_parameter_gradient():
    effect = Peq()
    proxy = randomized(_proxies.build_network(effect, SAMPLE_RATE, "tcn", TINY)).requires_grad_(
        False)
    gen = torch.Generator().manual_seed(2)
    x = 0.1 * torch.randn(2, 4000, generator=gen)
    p = torch.rand(2, effect.n_params, generator=gen)
    outs = []
    for fast in (False, True):
        for block in proxy.net.blocks:
            block.fast = fast
        pp = p.clone().requires_grad_(True)
        y = proxy(x, pp)
        y.square().mean().backward()
        outs.append((y.detach(), pp.grad))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[1][1], outs[0][1], rtol=1e-4, atol=1e-7)
    assert outs[0][1].abs().max() > 0  # a real gradient was compared


@pytest.mark.parametrize("cell", ["tcn-film", "tcn-concat", "tcn-hyper", "gcn-film",
                                  "gcn-hyper"])
@pytest.mark.parametrize("fast", [False, True])
def test_tcn_pads_each_block_by_its_window_with_the_same_output_and_gradients(cell, fast):
    """The reverb's receptive field (4.2 s) is many times the input here, and random weights
    make the padding's constant non-zero after the first block: the short padding must give
    the output and every gradient of padding the input by the whole receptive field."""
    effect = Reverb()
    net = randomized(_architectures.build(cell, effect, SAMPLE_RATE, TINY, effect.n_params))
    for block in net.blocks:
        block.fast = fast
    assert net.receptive_field > 10 * 1500
    gen = torch.Generator().manual_seed(3)
    x = 0.1 * torch.randn(2, 1500, generator=gen)
    p = torch.rand(2, effect.n_params, generator=gen)
    results = []
    for forward in (net.padded_forward, net.forward):
        net.zero_grad()
        pp = p.clone().requires_grad_(True)
        y = forward(x, pp)
        y.square().mean().backward()
        results.append((y.detach(), pp.grad, [w.grad.clone() for w in net.parameters()]))
    (y0, g0, w0), (y1, g1, w1) = results
    assert (y0 - x).abs().max() > 1e-3  # the network changes the signal
    torch.testing.assert_close(y1, y0, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g1, g0, rtol=1e-4, atol=1e-6)
    for a, b in zip(w1, w0, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert g0.abs().max() > 0


def test_pretraining_with_fast_kernels_follows_the_plain_torch_trajectory():
    effect = Peq()
    audio = (0.1 * np.random.default_rng(0).standard_normal((6, SAMPLE_RATE // 2))).astype(
        np.float32)
    job = _proxies.Pretraining(effect, SAMPLE_RATE, "tcn", TINY, audio)
    losses = []
    for fast in (False, True):
        torch.manual_seed(0)
        proxy = _proxies.build_network(effect, SAMPLE_RATE, "tcn", TINY)
        for block in proxy.net.blocks:
            block.fast = fast
        trainer = _proxies.Pretrainer(proxy, job)
        losses.append([trainer.step() for _ in range(5)] + [trainer.val_loss()])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-3)


def test_pretraining_throughput_compares_both_kernels_at_equal_fidelity():
    effect = Peq()
    audio = (0.1 * np.random.default_rng(1).standard_normal((6, SAMPLE_RATE // 2))).astype(
        np.float32)
    job = _proxies.Pretraining(effect, SAMPLE_RATE, "tcn", TINY, audio)
    out = _proxies.pretraining_throughput(job, steps=3)
    assert out["effect"] == "peq" and out["steps"] == 3
    for name in ("reference", "fast"):
        assert out[name]["samples_per_s"] > 0
    assert out["speedup"] == pytest.approx(
        out["fast"]["samples_per_s"] / out["reference"]["samples_per_s"])
    # same seed, same batches: the fidelity differs by float rounding only
    assert out["fast"]["mrstft"] == pytest.approx(out["reference"]["mrstft"], rel=1e-3)
    assert out["fast"]["lufs_error"] == pytest.approx(out["reference"]["lufs_error"], abs=1e-2)


def test_convolution_floor_times_the_tcn_and_skips_other_architectures():
    effect = Peq()
    tcn = randomized(_proxies.build_network(effect, SAMPLE_RATE, "tcn", TINY)).requires_grad_(
        False)
    floor = _proxies.convolution_floor(tcn, batch=2, samples=2000, repeats=1)
    assert floor["batch"] == 2 and floor["samples"] == 2000
    assert floor["step_s"] > 0 and floor["convs_s"] > 0 and floor["conv_gflops"] > 0
    assert floor["convs_share"] == pytest.approx(floor["convs_s"] / floor["step_s"])
    gru = _proxies.build_network(effect, SAMPLE_RATE, "hypergru", TINY)
    assert _proxies.convolution_floor(gru, batch=2, samples=2000) is None


class _ExactNet(torch.nn.Module):
    """A 'proxy' network that is the exact effect: its gradient cosine must be 1."""

    def __init__(self, effect):
        super().__init__()
        self.effect = effect

    def forward(self, x, c):
        return self.effect.torch_process(x.double(), c.double(), SAMPLE_RATE).float()


def test_gradient_cosine_is_one_for_the_exact_effect_and_lower_for_a_random_proxy():
    effect = Peq()
    audio = (0.1 * np.random.default_rng(3).standard_normal((4, SAMPLE_RATE))).astype(
        np.float32)
    job = _proxies.Pretraining(effect, SAMPLE_RATE, "tcn", TINY, audio)
    exact = _proxies.EffectProxy(effect, SAMPLE_RATE, _ExactNet(effect))
    same = _proxies.gradient_cosine(exact, job, audio)
    assert same["grad_clips"] == 4 and same["grad_cosine_p10"] > 0.999
    random = randomized(_proxies.build_network(effect, SAMPLE_RATE, "tcn", TINY))
    assert _proxies.gradient_cosine(random, job, audio)["grad_cosine_median"] < 0.9


def test_a_black_boxs_gradient_cosine_is_measured_against_finite_differences():
    """An effect without a differentiable version is measured against the finite difference of
    the same loss through its renders: the exact effect still scores 1 against it."""
    class Opaque(Peq):  # the EQ, as a black box would be seen
        differentiable = False

    effect = Opaque()
    audio = (0.3 * np.random.default_rng(4).standard_normal((3, SAMPLE_RATE))).astype(
        np.float32)
    job = _proxies.Pretraining(effect, SAMPLE_RATE, "tcn", TINY, audio)
    exact = _proxies.EffectProxy(effect, SAMPLE_RATE, _ExactNet(Peq()))
    same = _proxies.gradient_cosine(exact, job, audio)
    assert same["grad_clips"] == 3 and same["grad_cosine_median"] > 0.99
    random = randomized(_proxies.build_network(effect, SAMPLE_RATE, "tcn", TINY))
    assert _proxies.gradient_cosine(random, job, audio)["grad_cosine_median"] < 0.9
