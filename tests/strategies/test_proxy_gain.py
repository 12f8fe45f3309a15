"""The gain-computer proxy of dynamics effects: only a level change, causal, differentiable."""

from __future__ import annotations

import pytest

from bench.dsp.compressor import Compressor
from bench.dsp.peq import Peq
from tests.strategies.conftest import SAMPLE_RATE
from tests.strategies.test_proxies import TINY, randomized

torch = pytest.importorskip("torch")

from strategies import _proxies  # noqa: E402
from strategies._proxy_gain import GainComputer  # noqa: E402


def gain_proxy(seed: int = 0) -> _proxies.EffectProxy:
    """A randomly weighted tiny gain proxy of the compressor in float64."""
    return randomized(_proxies.build_network(Compressor(), SAMPLE_RATE, "gain", TINY),
                      seed).double()


def signal(n: int = 400, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (0.3 * torch.randn(2, n, generator=g, dtype=torch.float64)
            * torch.linspace(0.05, 1.0, n, dtype=torch.float64))


def test_output_is_the_input_times_a_positive_gain_from_the_network():
    proxy = gain_proxy()
    x, p = signal(), torch.rand(2, proxy.n_params, dtype=torch.float64)
    with torch.no_grad():
        y = proxy(x, p)
        cond = p.index_select(1, proxy.cond_index)
        gain_db = proxy.net.gain_db(x, cond)
        makeup_db = proxy.gain_param.to_physical(p[:, proxy.gain_index])
    torch.testing.assert_close(y, x * 10 ** ((gain_db + makeup_db[:, None]) / 20))
    assert gain_db.abs().max() > 0.1  # the randomized network does change the level
    assert torch.equal(torch.sign(y), torch.sign(x))


def test_gain_is_causal_up_to_half_a_frame():
    proxy = gain_proxy(seed=2)
    net = proxy.net
    x, c = signal(), torch.rand(2, proxy.n_params - 1, dtype=torch.float64)
    cut = 200
    later = x.clone()
    later[:, cut:] *= 3.0
    with torch.no_grad():
        before, after = net.gain_db(x, c), net.gain_db(later, c)
    first_frame = cut // net.hop  # the first frame whose level changed
    unchanged = first_frame * net.hop - (net.hop + 1) // 2
    torch.testing.assert_close(before[:, :unchanged], after[:, :unchanged], rtol=0, atol=1e-12)
    assert (before[:, cut:] - after[:, cut:]).abs().max() > 1e-3


def test_starts_near_unity_gain():
    net = _proxies.build_network(Compressor(), SAMPLE_RATE, "gain", TINY).net
    assert isinstance(net, GainComputer)
    with torch.no_grad():
        gain_db = net.gain_db(signal().float(), torch.rand(2, Compressor.n_params - 1))
    assert gain_db.abs().max() < 3.0


def test_gradcheck_through_input_and_parameters():
    proxy = gain_proxy(seed=3)
    x = signal(n=120).requires_grad_()
    p = torch.rand(2, proxy.n_params, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(proxy, (x, p), eps=1e-6, atol=1e-5)


def test_gain_proxy_refuses_an_effect_that_is_not_dynamics():
    with pytest.raises(ValueError, match="not a dynamics effect"):
        _proxies.build_network(Peq(), SAMPLE_RATE, "gain", TINY)
