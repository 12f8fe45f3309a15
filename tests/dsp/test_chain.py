"""Chains: concatenated specs, splitting, sequential rendering, differentiability reasons."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.dsp import Chain, NotDifferentiable, get_effect
from tests.dsp.conftest import SR


def test_deepafx_chain_has_24_prefixed_parameters():
    chain = Chain.parse("peq>compressor")
    assert chain.names == ("peq", "compressor") and chain.n_params == 24
    names = [p.name for p in chain.params(SR)]
    assert names[0] == "peq.low_shelf_gain" and names[3] == "peq.band1_gain"
    assert names[18:] == [f"compressor.{n}" for n in
                          ("threshold", "ratio", "attack", "release", "knee", "makeup")]
    assert np.array_equal(chain.defaults(SR), np.concatenate(
        [get_effect("peq").defaults(SR), get_effect("compressor").defaults(SR)]))


def test_repeated_effects_get_distinct_prefixes():
    names = [p.name for p in Chain(["delay", "delay"]).params(SR)]
    assert names[0] == "delay#1.time" and names[3] == "delay#2.time"


def test_process_is_the_effects_in_order(rng):
    chain = Chain(["distortion", "peq", "compressor"])
    x = 0.3 * rng.standard_normal((2, 3000))
    p = rng.uniform(size=(2, chain.n_params))
    a, b, c = chain.split(p)
    expected = x
    for effect, q in zip(chain.effects, (a, b, c), strict=True):
        expected = effect.process(expected, q, SR)
    assert np.array_equal(chain.process(x, p, SR), expected)
    pt = torch.from_numpy(p).requires_grad_(True)
    y = chain.torch_process(torch.from_numpy(x), pt, SR)
    assert np.allclose(y.detach().numpy(), expected, rtol=0, atol=1e-10)
    y.square().sum().backward()
    assert pt.grad.shape == p.shape and torch.isfinite(pt.grad).all()


def test_split_checks_the_width():
    with pytest.raises(ValueError, match="24"):
        Chain.parse("peq>compressor").split(np.zeros((1, 23)))


def test_black_box_chain_says_why_it_is_not_differentiable():
    chain = Chain(["peq", "pb_compressor"])
    assert not chain.differentiable
    assert "pb_compressor" in chain.why_not_differentiable()
    with pytest.raises(NotDifferentiable, match="pb_compressor"):
        chain.torch_process(torch.zeros(1, 8), torch.zeros(1, chain.n_params), SR)
    assert Chain(["peq"]).why_not_differentiable() is None


def test_empty_chain_is_an_error():
    with pytest.raises(ValueError, match="at least one"):
        Chain([])
