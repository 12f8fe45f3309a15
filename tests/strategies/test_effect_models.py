"""The effect-model grid: every cell builds for the effects it can model and is conditioned by
the parameters, the cells that cannot model an effect say which can, FiLM and the hypernetwork
are the proxies the strategies used before, a conditioning or an architecture is one class, and
a model of an identity effect learns it to near-zero error."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from bench.dsp import get_effect
from bench.dsp.spec import DspEffect, Param
from bench.errors import BenchError
from bench.metrics.modeling import esr_per_example
from tests.strategies.conftest import SAMPLE_RATE, clips
from tests.strategies.test_proxies import TINY, randomized

torch = pytest.importorskip("torch")

from strategies import _architectures, _conditioning, _proxies  # noqa: E402
from strategies._architectures.base import REGISTRY as ARCHS  # noqa: E402
from strategies._architectures.base import Architecture  # noqa: E402
from strategies._conditioning.base import REGISTRY as CONDS  # noqa: E402
from strategies._conditioning.base import Conditioning, Modulation  # noqa: E402
from strategies._proxy_nets import ConditionalGru, ConditionalTcn  # noqa: E402

EFFECTS = ("peq", "compressor", "distortion", "delay", "reverb")


class Identity(DspEffect):
    """Passes its input through unchanged whatever its one parameter (linear)."""

    version = "1"
    linear = True
    memory_seconds = 0.01

    @classmethod
    def params(cls, sample_rate: int) -> tuple[Param, ...]:
        """One parameter that changes nothing."""
        return (Param("unused", "", 0.0, 1.0, 0.5, "lin"),)

    def render(self, xp, x, v, sample_rate):
        """x itself."""
        return x


Identity.name = "identity"  # a name given after the class: never registered as an effect


def test_the_grid_is_four_architectures_by_three_conditionings():
    assert _architectures.names() == ("gcn", "gru", "iir", "tcn")
    assert _conditioning.names() == ("concat", "film", "hyper")
    assert "gru-hyper" in _architectures.cells(get_effect("delay"))  # the HyperGRU


@pytest.mark.parametrize("effect", EFFECTS)
def test_every_cell_builds_and_its_output_depends_on_the_parameters(effect):
    e = get_effect(effect)
    x = 0.3 * torch.randn(2, 2000, generator=torch.Generator().manual_seed(0))
    for cell in _architectures.cells(e):
        torch.manual_seed(0)
        proxy = randomized(_proxies.build_network(e, SAMPLE_RATE, cell, TINY))
        p = torch.rand(2, e.n_params, generator=torch.Generator().manual_seed(1))
        y = proxy(x, p)
        assert y.shape == x.shape and torch.isfinite(y).all(), cell
        moved = proxy(x, torch.flip(p, [0]))  # each example gets the other's parameters
        assert not torch.allclose(y, moved), f"{cell} ignores its parameters"


def test_the_iir_gray_box_models_filters_and_waveshapers_only():
    assert {"iir-film", "iir-hyper"} <= set(_architectures.cells(get_effect("peq")))
    assert {"iir-film", "iir-hyper"} <= set(_architectures.cells(get_effect("distortion")))
    assert not any(c.startswith("iir") for c in _architectures.cells(get_effect("compressor")))
    with pytest.raises(BenchError, match="cells that can: gcn-concat") as info:
        _architectures.checked("iir-film", get_effect("compressor"))
    assert "\n" not in str(info.value)
    assert "constant" in _architectures.why_not("iir-concat", get_effect("peq"))
    with pytest.raises(BenchError, match="ARCH-CONDITIONING"):
        _architectures.parse("transformer-film")


def test_the_iir_filters_are_stable_for_any_raw_coefficients():
    from strategies._architectures.iir import stable_sos

    raw = 50 * torch.randn(1000, 5, generator=torch.Generator().manual_seed(0))
    sos = stable_sos(raw).numpy()
    for row in sos[:, 3:]:
        assert np.abs(np.roots([1.0, *row])).max() < 1.0


def test_film_and_hypernetwork_cells_are_the_tcn_and_hypergru_proxies():
    """Same classes, sizes, state-dict names and outputs from the same seed: tcn-film is the
    ``tcn`` proxy and gru-hyper the ``hypergru`` one, and a FiLM block keeps the weights'
    names the committed proxies were saved with."""
    e = get_effect("delay")
    for cell, arch, cls in (("tcn-film", "tcn", ConditionalTcn),
                            ("gru-hyper", "hypergru", ConditionalGru)):
        torch.manual_seed(0)
        ours = _proxies.build_network(e, SAMPLE_RATE, cell, TINY)
        torch.manual_seed(0)
        before = _proxies.build_network(e, SAMPLE_RATE, arch, TINY)
        assert isinstance(ours.net, cls) and isinstance(before.net, cls)
        assert list(ours.state_dict()) == list(before.state_dict())
        x, p = torch.randn(1, 500), torch.rand(1, e.n_params)
        assert torch.equal(ours(x, p), before(x, p))
    tcn = _proxies.build_network(e, SAMPLE_RATE, "tcn-film", TINY).state_dict()
    assert {"net.blocks.0.film.weight", "net.blocks.0.film.bias"} <= set(tcn)
    gru = _proxies.build_network(e, SAMPLE_RATE, "gru-hyper", TINY).state_dict()
    assert {"net.hyper.weight", "net.w_ih", "net.w_hh"} <= set(gru)


def test_a_conditioning_and_an_architecture_are_one_class_each():
    class Shift(Conditioning):
        """A test conditioning: a shift of the output by the embedding's mean."""

        name = "test_shift"

        @classmethod
        def width(cls, shapes):
            return 1

        def initialise(self, bound):
            torch.nn.init.ones_(self.weight)

        def modulate(self, weights, emb):
            return Modulation(list(weights), shift=self(emb).expand(-1, weights[0].shape[0]))

    class Tiny(Architecture):
        """A test architecture: the TCN at another name."""

        name = "test_tiny"

        @classmethod
        def config(cls, cfg):
            return cfg.tcn

        @classmethod
        def build(cls, n_cond, cfg, effect, sample_rate, conditioning):
            return ARCHS["tcn"].build(n_cond, cfg, effect, sample_rate, conditioning)

    try:
        e = get_effect("delay")
        assert "test_tiny-test_shift" in _architectures.cells(e)
        net = _proxies.build_network(e, SAMPLE_RATE, "test_tiny-test_shift", TINY)
        assert net(torch.randn(1, 300), torch.rand(1, e.n_params)).shape == (1, 300)
        job = _proxies.Pretraining(e, SAMPLE_RATE, "test_tiny-test_shift", TINY, clips())
        assert job.key()["arch"] == "test_tiny-test_shift"
    finally:
        CONDS.pop("test_shift", None)
        ARCHS.pop("test_tiny", None)


@pytest.mark.parametrize("cell", ["tcn-concat", "gru-film", "iir-hyper"])
def test_a_model_of_an_identity_effect_reaches_near_zero_error(cell):
    cfg = dataclasses.replace(TINY, train=dataclasses.replace(
        TINY.train, steps=80, lr=1e-2, patch_seconds=0.1))
    job = _proxies.Pretraining(Identity(), SAMPLE_RATE, cell, cfg, clips())
    torch.manual_seed(0)
    proxy = _proxies.build_network(job.effect, SAMPLE_RATE, cell, job.cfg)
    trainer = _proxies.Pretrainer(proxy, job)
    p = np.random.default_rng(0).uniform(size=(len(trainer.held), 1))

    def error() -> float:
        proxy.eval()
        return float(esr_per_example(_proxies.proxy_render(proxy, trainer.held, p),
                                     trainer.held).mean())

    before = error()
    proxy.train()
    for _ in range(cfg.train.steps):
        trainer.step()
    after = error()
    assert after < 1e-3 and after < before / 10, (before, after)


def test_a_screened_cell_reports_its_held_out_loss_cached_or_not_and_a_stopped_one_caches_nothing(
        tmp_path):
    cfg = dataclasses.replace(TINY, train=dataclasses.replace(TINY.train, steps=12))
    job = _proxies.Pretraining(get_effect("peq"), SAMPLE_RATE, "iir-film", cfg, clips())
    seen = []
    _, meta = _proxies.pretrained_proxy(job, tmp_path / "a", False,
                                        lambda s, v: seen.append((s, v)), every=4)
    assert [s for s, _ in seen] == [4, 8]  # not at the last step: the run is then complete
    assert all(np.isfinite(v) and v > 0 for _, v in seen) and meta["pretrain_steps"] == 12
    # the reports do not touch the weights: the same cell trained unscreened is the same model
    unscreened, _ = _proxies.pretrained_proxy(job, tmp_path / "b", False)
    screened, _ = _proxies.pretrained_proxy(job, tmp_path / "a", False)  # from the cache
    for a, b in zip(screened.state_dict().values(), unscreened.state_dict().values(),
                    strict=True):
        torch.testing.assert_close(a, b)

    class Stop(Exception):
        pass

    def stop(step: int, value: float) -> None:
        raise Stop(step)

    with pytest.raises(Stop):
        _proxies.pretrained_proxy(job, tmp_path / "c", False, stop, every=4)
    assert not list((tmp_path / "c").rglob("*.safetensors"))  # (its lock file only)
    assert list((tmp_path / "a").rglob("*.safetensors"))
    # a cached cell reports its screening losses again, so a tuner screens it as if it trained
    again = []
    _, meta = _proxies.pretrained_proxy(job, tmp_path / "a", False,
                                        lambda s, v: again.append((s, v)), every=4)
    assert meta["reused"] and again == seen
    with pytest.raises(Stop):
        _proxies.pretrained_proxy(job, tmp_path / "a", False, stop, every=4)
