"""The waveshaper + filter proxy of Hammerstein effects: a memoryless, level-dependent gain per
sample, then a learned FIR; gradients, which effects get it, a smoke pre-training."""

from __future__ import annotations

import numpy as np
import pytest

from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.dsp.compressor import Compressor
from bench.dsp.distortion import Distortion
from bench.dsp.peq import Peq
from tests.strategies.conftest import SAMPLE_RATE
from tests.strategies.test_proxies import TINY, randomized, run_context

torch = pytest.importorskip("torch")

from strategies import _proxies, _proxy_store  # noqa: E402
from strategies._proxy_filters import FilterHypernetwork  # noqa: E402
from strategies._proxy_shaper import HammersteinProxy, Waveshaper  # noqa: E402


def shaper_proxy(seed: int = 0) -> _proxies.EffectProxy:
    """A randomly weighted tiny shaper proxy of the distortion in float64."""
    return randomized(_proxies.build_network(Distortion(), SAMPLE_RATE, "shaper", TINY),
                      seed).double()


def signal(n: int = 400, seed: int = 1) -> torch.Tensor:
    """Two rows of noise whose level rises from −46 to −10 dBFS (float64)."""
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(2, n, generator=g, dtype=torch.float64)
            * torch.logspace(-1.3, 0, n, dtype=torch.float64))


def conditioning(proxy: _proxies.EffectProxy, seed: int = 2) -> torch.Tensor:
    """Random learned parameters (without the analytic output gain) for two examples."""
    n = len(proxy.cond_index)
    return torch.rand(2, n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def test_the_proxy_is_the_waveshaper_then_the_filter_with_the_input_shape():
    proxy = shaper_proxy()
    net = proxy.net
    assert isinstance(net, HammersteinProxy)
    assert isinstance(net.shaper, Waveshaper) and isinstance(net.filter, FilterHypernetwork)
    x, c = signal(), conditioning(proxy)
    with torch.no_grad():
        y = net(x, c)
        torch.testing.assert_close(y, net.filter(net.shaper(x, c), c))
        p = torch.rand(2, proxy.n_params, dtype=torch.float64)
        out = proxy(x, p)
    assert y.shape == out.shape == x.shape and torch.isfinite(out).all()
    assert proxy.net.shaper.cond[0].in_features == 2  # drive and tone: the output gain is exact


def test_the_waveshaper_is_memoryless_odd_and_level_dependent():
    shaper = shaper_proxy(seed=3).net.shaper
    x, c = signal(), conditioning(shaper_proxy(), seed=4)
    with torch.no_grad():
        y = shaper(x, c)
        # per sample: changing one sample changes that output sample alone, and shuffling the
        # samples shuffles the output
        poked = x.clone()
        poked[:, 150] *= 7.0
        changed = (shaper(poked, c) - y).abs() > 0
        assert changed[:, 150].all() and changed.sum() == 2
        perm = torch.randperm(x.shape[1], generator=torch.Generator().manual_seed(5))
        torch.testing.assert_close(shaper(x[:, perm], c), y[:, perm], rtol=0, atol=0)
        # odd and sign-preserving, silence stays silent
        torch.testing.assert_close(shaper(-x, c), -y, rtol=0, atol=0)
        assert torch.equal(torch.sign(y), torch.sign(x))
        assert torch.equal(shaper(torch.zeros_like(x), c), torch.zeros_like(x))
        # not level-equivariant: the gain depends on the input level
        gain = shaper.log_gain(x, c)
        louder = shaper.log_gain(10 * x, c)
    assert (gain - louder).abs().max() > 1e-3


def test_the_per_sample_gain_interpolates_the_mlp_curve_on_the_level_grid():
    shaper = shaper_proxy(seed=6).net.shaper
    c = conditioning(shaper_proxy(), seed=7)
    grid = shaper.grid
    with torch.no_grad():
        table = shaper.curve(c, grid)
        # samples exactly at grid levels get the curve's value; halfway, the mean of the two
        at_knots = 10 ** grid[1:-1].expand(2, -1)
        torch.testing.assert_close(shaper.log_gain(at_knots, c), table[:, 1:-1])
        halfway = 10 ** ((grid[1:] + grid[:-1]) / 2).expand(2, -1)
        torch.testing.assert_close(shaper.log_gain(-halfway, c),
                                   (table[:, 1:] + table[:, :-1]) / 2)
        # below the grid the gain is constant (linear shaper); above, the last slope continues
        quiet = shaper.log_gain(torch.full((2, 3), 1e-9, dtype=torch.float64) * torch.tensor(
            [1.0, 10.0, 100.0], dtype=torch.float64), c)
        torch.testing.assert_close(quiet, table[:, :1].expand(-1, 3))
        step = grid[1] - grid[0]
        loud = shaper.log_gain(10 ** (grid[-1] + step).expand(2, 1), c)
        torch.testing.assert_close(loud[:, 0], 2 * table[:, -1] - table[:, -2])


def test_gradients_flow_to_every_parameter_and_the_input():
    proxy = shaper_proxy(seed=8)
    x = signal(n=160).requires_grad_()
    p = torch.rand(2, proxy.n_params, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda q: proxy(x.detach(), q), (p,), eps=1e-6, atol=1e-6)
    proxy(x, p).square().sum().backward()
    assert (p.grad.abs() > 0).all()  # drive, tone and the output gain
    assert torch.isfinite(x.grad).all() and x.grad.abs().max() > 0


def test_the_gradient_wrt_the_conditioning_is_smooth_in_c():
    # the log-level grid is fixed and the curve is a SiLU MLP of c: the gain's derivative
    # w.r.t. c changes little for a small change of c
    shaper = shaper_proxy(seed=9).net.shaper
    x = signal()
    c = conditioning(shaper_proxy(), seed=10)

    def jac(cc: torch.Tensor) -> torch.Tensor:
        cc = cc.clone().requires_grad_()
        (g,) = torch.autograd.grad(shaper(x, cc).sum(), cc)
        return g

    a, b = jac(c), jac(c + 1e-4)
    assert (a - b).abs().max() < 1e-2 * a.abs().max()


def test_the_shaper_starts_near_the_identity():
    net = _proxies.build_network(Distortion(), SAMPLE_RATE, "shaper", TINY).net
    x = signal().float()
    with torch.no_grad():
        gain = net.shaper.log_gain(x, torch.rand(2, 2))
        y = net(x, torch.rand(2, 2))
    assert gain.abs().max() < 0.5
    assert (y - x).abs().max() < 0.5 * x.abs().max()


def test_hammerstein_effects_get_the_shaper_whatever_the_arch(audio, tmp_path):
    assert Distortion.hammerstein and not Peq.hammerstein and not Compressor.hammerstein
    for arch in ("tcn", "hypergru"):
        assert _proxies.effect_arch("distortion", arch) == "shaper"
        assert _proxies.effect_arch("delay", arch) == arch  # neither linear, dynamics nor this
    assert _proxy_store.build_command("music", "distortion", "shaper") == (
        "python -m bench proxies build --domain music --effect distortion")
    # a smoke pre-training of the shaper runs, learns and reports its figures
    ctx = run_context(tmp_path)
    layer = _proxy_store.proxy_chain(Chain(["distortion"]), SAMPLE_RATE, ctx,
                                     TrainingAudio("test", audio), "tcn")
    (proxy,) = layer.distinct()
    assert isinstance(proxy.net, HammersteinProxy)
    assert [job.arch for job in layer.jobs] == ["shaper"]
    report = ctx.extra["proxies"]["distortion"]
    assert report["arch"] == "shaper" and not report["reused"]
    assert report["val_loss_after"] < report["val_loss_before"]
    assert all(np.isfinite(report[k]) for k in ("mrstft", "lufs_error", "rtf",
                                                "grad_cosine_median"))
    assert _proxies.convolution_floor(proxy, batch=2, samples=500) is None


@pytest.mark.parametrize("effect", [Compressor(), Peq()])
def test_the_shaper_refuses_an_effect_that_is_not_hammerstein(effect):
    with pytest.raises(ValueError, match=f"{effect.name!r}, which is not a Hammerstein effect"):
        _proxies.build_network(effect, SAMPLE_RATE, "shaper", TINY)
