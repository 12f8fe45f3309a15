"""Gradient fidelity: how close each gradient strategy's gradient is to the true one, and what
it costs.

At random parameter points of one effect (or of the ``peq → compressor`` chain), a share of
their coordinates at or near 0 and 1 (``tasks.examples.edge_points``), each with a target
rendered by the reference DSP at another random setting, the loss is the one the style-transfer
learners train on (MR-STFT + 100·L1). A gradient strategy's effect layer gives d loss / d p as
training uses it (float32 audio and parameters); it is compared with the reference gradient:

- the exact one where the chain is differentiable: the same loss through the differentiable
  chain and autograd in float64;
- a second-order finite difference of the same loss through the reference DSP where it is a
  black box (step ``bench.metrics.gradient.FD_STEP``); its own error is estimated by repeating
  it at twice the step, stated in every run's extra facts and in the ``finite_difference_2h``
  row. On the differentiable effects the ``finite_difference`` row scores the same rule against
  the exact gradient, so the estimate can be checked where the truth is known.

Half the points come from the speech corpus and half from music; each domain gets its own
effect layer (proxies pre-trained on that domain's audio), as in the tasks that train. Each
point's gradient is drawn ``DRAWS`` times: a strategy whose first two draws agree bit for bit
is deterministic and stops there, a stochastic one (SPSA) gets bias and variance over its draws.
Nothing is trained; search strategies skip (they supply no gradient).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from bench.base import (
    SHARED_SETUP,
    Capabilities,
    Counters,
    Metric,
    MetricFailure,
    Outcome,
    RunContext,
    Solver,
    Strategy,
    Task,
    safe_metrics,
)
from bench.device import to_host
from bench.gradient import GradientStrategy, StepClock, Training
from bench.metrics.gradient import (
    FD_STEP,
    bias_variance,
    cosine,
    finite_difference,
    relative_error,
    sign_counts,
)
from bench.seeding import derive_seed
from tasks import _audio
from tasks.examples import NEAR
from tasks.style_transfer import L1_WEIGHT, TRAIN_FFTS

DOMAINS = ("speech", "music")
DRAWS = {"smoke": 3}
"""Draws of each point's gradient per budget (default ``DEFAULT_DRAWS``): enough to separate a
stochastic estimate's bias from its variance."""
DEFAULT_DRAWS = 8
CHECK_FACTOR = 2.0
"""The finite-difference reference is repeated at this multiple of its step to estimate its
own error."""
CACHE_BYTES = 256 * 2**20
"""Point sets (audio and reference gradients) kept in memory per process, oldest dropped first:
every strategy measured in a process reuses its task's points, black boxes' costly references
included."""

METRICS = (
    Metric("cosine_mean", True, "", "cosine similarity to the reference gradient, mean over "
           "points and draws"),
    Metric("cosine_p10", True, "", "10th percentile of that cosine over points and draws"),
    Metric("rel_error", False, "", "relative error ‖g − g*‖ / ‖g*‖, median over points and "
           "draws"),
    Metric("sign_agreement", True, "", "share of gradient entries whose sign matches the "
           "reference's (numerically zero reference entries excluded)"),
    Metric("ms_per_gradient", False, "ms", "wall time of the effect layer's forward and "
           "backward per example gradient (the loss excluded)"),
    Metric("dsp_evals_per_gradient", False, "", "reference-DSP evaluations per example "
           "gradient"),
)
ACCURACY = ("cosine_mean", "cosine_p10", "rel_error", "sign_agreement")


@dataclass(frozen=True)
class Points:
    """One domain's measurement points and their reference gradients.

    ``dry``, ``target`` (points, samples) and ``p`` (points, n_params) hold values float32
    represents exactly, so the float32 strategies and the float64 reference see one problem.
    ``check`` is the reference rule at ``CHECK_FACTOR`` times its step (black boxes only).
    """

    domain: str
    dry: np.ndarray
    target: np.ndarray
    p: np.ndarray
    reference: np.ndarray
    check: np.ndarray | None = None
    check_seconds: float = 0.0
    check_evals: int = 0

    @property
    def nbytes(self) -> int:
        """Memory the arrays hold."""
        return sum(a.nbytes for a in (self.dry, self.target, self.p, self.reference,
                                      self.check) if a is not None)

    def rows(self, batch: int) -> list[np.ndarray]:
        """Row indices in batches of ``batch``."""
        return [np.arange(i, min(i + batch, len(self.p))) for i in range(0, len(self.p), batch)]


@functools.cache
def _loss_module() -> Any:
    from bench.metrics import mrstft_loss

    return mrstft_loss(TRAIN_FFTS)


def task_losses(y: Any, target: Any) -> Any:
    """The style-transfer training loss (MR-STFT + ``L1_WEIGHT``·L1) of every row: a tensor
    (rows,), so that the gradient of its sum holds each row's own gradient."""
    import torch

    loss = _loss_module()
    return torch.stack([loss(y[i][None, None], target[i][None, None])
                        + L1_WEIGHT * (y[i] - target[i]).abs().mean() for i in range(len(y))])


def exact_gradient(task: Task, sample_rate: int, dry: np.ndarray, target: np.ndarray,
                   p: np.ndarray, batch: int = 8) -> np.ndarray:
    """d loss / d p through the differentiable chain, float64 throughout."""
    import torch

    out = []
    with torch.enable_grad():
        for i in range(0, len(p), batch):
            pt = torch.from_numpy(p[i:i + batch]).requires_grad_(True)
            y = task.chain.torch_process(torch.from_numpy(dry[i:i + batch]), pt, sample_rate)
            task_losses(y, torch.from_numpy(target[i:i + batch])).sum().backward()
            out.append(pt.grad.numpy())
    return np.concatenate(out)


def fd_gradient(task: Task, sample_rate: int, dry: np.ndarray, target: np.ndarray,
                p: np.ndarray, step: float, counters: Counters) -> np.ndarray:
    """d loss / d p by the second-order finite difference of ``bench.metrics.gradient`` through
    the reference DSP (renders counted by ``counters``, which is not the strategy's)."""
    import torch

    def at(i: int) -> Any:
        def losses(points: np.ndarray) -> np.ndarray:
            m = len(points)
            y = counters.render(task.chain, np.repeat(dry[i:i + 1], m, 0), points, sample_rate)
            with torch.no_grad():
                return task_losses(torch.from_numpy(np.asarray(y, np.float64)),
                                   torch.from_numpy(np.repeat(target[i:i + 1], m, 0))).numpy()
        return losses

    return np.stack([finite_difference(at(i), p[i], step) for i in range(len(p))])


_POINTS: dict[tuple[Any, ...], list[Points]] = {}


class GradientFidelity(Task):
    """Shared protocol of the gradient tasks (subclasses name the effect chain)."""

    family = "gradient"
    capabilities = Capabilities(chain=True, measures_gradients=True)
    main_metric = "cosine_mean"
    metrics = METRICS
    references: ClassVar[tuple[str, ...]] = ("finite_difference",)
    domains: ClassVar[tuple[str, ...]] = DOMAINS

    def skip_reason(self, strategy: Strategy) -> str | None:
        """An effect that cannot run here (a missing plugin or package) keeps every strategy
        out, with its reason."""
        reason = self.chain.why_unavailable()
        return f"effect unavailable ({reason})" if reason else None

    # -- the points and their reference -------------------------------------------------------
    def points(self, ctx: RunContext) -> list[Points]:
        """Each domain's points and reference gradients for ``ctx``'s split and seed; computed
        once per process (every strategy of a final run measures the same points)."""
        key = (self.name, self.version, ctx.budget, ctx.seed, ctx.split, str(ctx.cache_dir),
               str(ctx.data_root), ctx.data)
        if key not in _POINTS:
            cpu = time.process_time()
            _POINTS[key] = [self._points(d, n, ctx) for d, n in self._split(ctx.budget)]
            ctx.extra[SHARED_SETUP] = time.process_time() - cpu
            while len(_POINTS) > 1 and sum(s.nbytes for sets in _POINTS.values()
                                           for s in sets) > CACHE_BYTES:
                _POINTS.pop(next(iter(_POINTS)))
        return _POINTS[key]

    def _split(self, budget: Any) -> list[tuple[str, int]]:
        """(domain, points) pairs: the budget's evaluation examples shared out over domains."""
        n, k = budget.eval_examples, len(self.domains)
        return [(d, n // k + (i < n % k)) for i, d in enumerate(self.domains)]

    def _points(self, domain: str, n: int, ctx: RunContext) -> Points:
        from tasks.examples import gradient_points

        sr = ctx.rate_of()
        made = gradient_points(_audio.sources(domain, ctx.split, ctx), sr, n=n,
                               seconds=ctx.budget.clip_seconds,
                               seed=_audio.example_seed(ctx, self.name, f"{ctx.split}/{domain}"),
                               effects=self.effects)
        dry, target, p = (np.stack([getattr(m, f) for m in made])
                          for f in ("dry", "target", "point"))
        if self.chain.differentiable:
            return Points(domain, dry, target, p, exact_gradient(self, sr, dry, target, p))
        counters = Counters()
        reference = fd_gradient(self, sr, dry, target, p, FD_STEP, counters)
        before, start = counters.dsp_evals, time.perf_counter()
        check = fd_gradient(self, sr, dry, target, p, CHECK_FACTOR * FD_STEP, counters)
        return Points(domain, dry, target, p, reference, check, time.perf_counter() - start,
                      counters.dsp_evals - before)

    def reference_rule(self) -> dict[str, Any]:
        """What the reference gradient is, for the extra facts."""
        if self.chain.differentiable:
            return {"kind": "exact", "how": "the differentiable chain through autograd, float64"}
        return {"kind": "finite_difference", "step": FD_STEP, "check_step": CHECK_FACTOR * FD_STEP,
                "how": "second-order finite difference of the loss through the reference DSP "
                       "(central, one-sided within a step of 0 or 1)"}

    # -- running a strategy ---------------------------------------------------------------------
    def run(self, strategy: Strategy, ctx: RunContext) -> Outcome:
        """Measure ``strategy``'s gradients at this split's points (gradient strategies only:
        searches skip, see ``Capabilities.measures_gradients``)."""

        def searched(s: Any) -> Outcome:
            raise TypeError(f"{s.name} supplies no gradient to measure")

        return strategy.accept(Solver(lambda s: self.measure(s, ctx), searched))

    def measure(self, strategy: GradientStrategy, ctx: RunContext) -> Outcome:
        """Draw every point's gradient through ``strategy``'s effect layers, time and count it,
        and compare it with the reference."""
        with ctx.timed("setup"):
            sets = self.points(ctx)
            layers = {s.domain: self._layer(strategy, s.domain, ctx) for s in sets}
        draws = DRAWS.get(ctx.budget.name, DEFAULT_DRAWS)
        grads: list[np.ndarray] = []
        seconds = {"effect": 0.0, "total": 0.0}
        before = ctx.counters.dsp_evals
        with ctx.timed("solve"):
            for r in range(draws):
                grads.append(np.concatenate([self._draw(layers[s.domain], s, ctx, seconds)
                                             for s in sets]))
                if r == 1 and np.array_equal(grads[0], grads[1]):
                    break  # deterministic: more draws would repeat it
        g = np.stack(grads)
        n = g.shape[0] * g.shape[1]
        with ctx.timed("eval"):
            metrics = self.accuracy(g, sets)
            metrics["ms_per_gradient"] = 1e3 * seconds["effect"] / n
            metrics["dsp_evals_per_gradient"] = (ctx.counters.dsp_evals - before) / n
            facts = _jsonable({**self.facts(g, sets, ctx), "draws": len(g),
                               "deterministic": len(g) < draws,
                               "ms_per_gradient_with_loss": 1e3 * seconds["total"] / n})
        return ctx.outcome(metrics, gradient=facts)

    def _layer(self, strategy: GradientStrategy, domain: str, ctx: RunContext) -> Any:
        """``strategy``'s effect layer for ``domain`` (its own seed and audio); the facts it
        reports (proxy fidelity …) join the run's, their keys marked with the domain."""
        sub = dataclasses.replace(ctx, seed=derive_seed(ctx.seed, self.name, domain), extra={})
        layer = strategy.effect_layer(self.chain, ctx.rate_of(), sub,
                                      _audio.proxy_audio(domain, ctx))
        for key, value in sub.extra.items():
            if isinstance(value, dict):
                ctx.extra.setdefault(key, {}).update(
                    {f"{k} ({domain})": v for k, v in value.items()})
            else:
                ctx.extra[f"{key} ({domain})"] = value
        return layer

    def _draw(self, layer: Any, points: Points, ctx: RunContext,
              seconds: dict[str, float]) -> np.ndarray:
        """One gradient per point through ``layer`` in training-sized batches (float32, as
        training feeds it), adding the effect layer's and the whole step's wall time."""
        import torch

        timed = hasattr(layer, "register_forward_hook")  # torch modules: split by StepClock
        # p passes through a watched identity (the clock's "learner"): the gradient reaching
        # its output marks the end of the effect layer's backward
        points_in = torch.nn.Identity()
        clock = StepClock(Training([points_in], lambda step: None,
                                   effects=[layer] if timed else []), device=ctx.device)
        out = []
        try:
            for rows in points.rows(ctx.budget.batch_size):
                leaf, x, t = ctx.tensors(points.p[rows], points.dry[rows], points.target[rows])
                leaf.requires_grad_(True)
                clock.start()
                with torch.enable_grad():
                    loss = task_losses(layer(x, points_in(leaf)), t).sum()
                    clock.mark("forward")
                    loss.backward()
                clock.mark("backward")
                clock.mark("optimizer")
                phases = clock.phases()
                total = sum(phases.values())
                seconds["total"] += total
                seconds["effect"] += (phases["effect_forward"] + phases["effect_backward"]
                                      if timed else total)
                out.append(to_host(leaf.grad).astype(np.float64))
        finally:
            clock.close()
        return np.concatenate(out)

    # -- scores ---------------------------------------------------------------------------------
    def accuracy(self, g: np.ndarray, sets: list[Points]) -> dict[str, float | MetricFailure]:
        """The accuracy metrics of gradient draws ``g`` (draws, points, n_params) against the
        reference of ``sets``."""
        ref = np.concatenate([s.reference for s in sets])
        return safe_metrics(lambda: scores(g, ref), ACCURACY)

    def facts(self, g: np.ndarray, sets: list[Points], ctx: RunContext) -> dict[str, Any]:
        """The extra facts of a strategy's run: per domain, per parameter, at the ends of
        [0, 1] or inside, bias and variance over draws, and the reference with its error."""
        ref = np.concatenate([s.reference for s in sets])
        p = np.concatenate([s.p for s in sets])
        names = [q.name for q in self.chain.params(ctx.budget.sample_rate)]
        agree, counted = sign_counts(g, np.broadcast_to(ref, g.shape))
        edge = np.broadcast_to((p <= NEAR) | (p >= 1 - NEAR), g.shape)
        ends = {}
        for where, mask in (("ends", edge), ("inside", ~edge)):
            a, c = sign_counts(g, np.broadcast_to(ref, g.shape), where=mask)
            ends[f"sign_agreement_{where}"] = _share(a.sum(), c.sum())
        start, by_domain = 0, {}
        for s in sets:
            part = slice(start, start + len(s.p))
            by_domain[s.domain] = scores(g[:, part], s.reference)
            start = part.stop
        return {
            "reference": {**self.reference_rule(), **self.reference_error(sets)},
            "points": int(g.shape[1]), "by_domain": by_domain, **ends,
            "per_parameter": {name: {"sign_agreement": _share(a, c),
                                     "rel_error": float(np.median(
                                         np.abs(g[..., j] - ref[:, j])
                                         / np.maximum(np.abs(ref[:, j]), 1e-30)))}
                              for j, (name, a, c) in enumerate(zip(names, agree, counted,
                                                                   strict=True))},
            **bias_variance(g, ref),
        }

    def reference_error(self, sets: list[Points]) -> dict[str, Any]:
        """The reference's own error estimate (black boxes: the rule at twice its step against
        the rule), or nothing for an exact reference."""
        if sets[0].check is None:
            return {}
        check = np.concatenate([s.check for s in sets])
        ref = np.concatenate([s.reference for s in sets])
        return {"check_" + k: v for k, v in scores(check[None], ref).items()}

    # -- the reference rows -------------------------------------------------------------------
    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``finite_difference``: the black-box reference rule scored against the exact
        gradient (differentiable chains), with its own error estimate beside it."""
        if which != "finite_difference" or not self.chain.differentiable:
            raise NotImplementedError(which)
        sr = ctx.rate_of()
        sets = self.points(ctx)
        counters = Counters()
        start = time.perf_counter()
        fd = np.concatenate([fd_gradient(self, sr, s.dry, s.target, s.p, FD_STEP, counters)
                             for s in sets])
        seconds, evals = time.perf_counter() - start, counters.dsp_evals
        check = np.concatenate([fd_gradient(self, sr, s.dry, s.target, s.p,
                                            CHECK_FACTOR * FD_STEP, counters) for s in sets])
        metrics = self.accuracy(fd[None], sets)
        metrics["ms_per_gradient"] = 1e3 * seconds / len(fd)
        metrics["dsp_evals_per_gradient"] = evals / len(fd)
        return ctx.outcome(metrics, gradient=_jsonable({
            "reference": {**self.reference_rule(), "scored_rule": {
                "step": FD_STEP, "check_step": CHECK_FACTOR * FD_STEP}},
            "estimated_error": {"check_" + k: v for k, v in scores(check[None], fd).items()}}))


class BlackBoxGradientFidelity(GradientFidelity):
    """Gradient fidelity on a black-box effect: the reference is the finite difference."""

    references = ("finite_difference_2h",)

    def reference(self, which: str, ctx: RunContext) -> Outcome:
        """``finite_difference_2h``: the reference rule at twice its step scored against the
        reference — the reference's own error estimate, as a row."""
        if which != "finite_difference_2h":
            raise NotImplementedError(which)
        sets = self.points(ctx)
        check = np.concatenate([s.check for s in sets])
        metrics = self.accuracy(check[None], sets)
        metrics["ms_per_gradient"] = 1e3 * sum(s.check_seconds for s in sets) / len(check)
        metrics["dsp_evals_per_gradient"] = sum(s.check_evals for s in sets) / len(check)
        return ctx.outcome(metrics, gradient={"reference": self.reference_rule()})


def scores(g: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Cosine (mean, 10th percentile), median relative error and sign agreement of draws ``g``
    (draws, points, n_params) against ``reference`` (points, n_params)."""
    ref = np.broadcast_to(reference, g.shape)
    cos = cosine(g, ref)
    agree, counted = sign_counts(g, ref)
    return {"cosine_mean": float(cos.mean()), "cosine_p10": float(np.percentile(cos, 10)),
            "rel_error": float(np.median(relative_error(g, ref))),
            "sign_agreement": _share(agree.sum(), counted.sum())}


def _share(part: Any, whole: Any) -> float:
    """part / whole, NaN when nothing was counted."""
    return float(part) / float(whole) if whole else float("nan")


def _jsonable(value: Any) -> Any:
    """``value`` with every non-finite float, in nested dicts too, as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return None if isinstance(value, float) and not np.isfinite(value) else value


# -- the tasks: one per effect ------------------------------------------------------------------
class GradientPeq(GradientFidelity):
    """Gradient fidelity on the six-band parametric EQ (exact reference)."""

    name = "gradient_peq"
    version = "1"
    effects = ("peq",)


class GradientCompressor(GradientFidelity):
    """Gradient fidelity on the compressor (exact reference)."""

    name = "gradient_compressor"
    version = "1"
    effects = ("compressor",)


class GradientDistortion(GradientFidelity):
    """Gradient fidelity on the distortion (exact reference)."""

    name = "gradient_distortion"
    version = "1"
    effects = ("distortion",)


class GradientDelay(GradientFidelity):
    """Gradient fidelity on the feedback delay (exact reference)."""

    name = "gradient_delay"
    version = "1"
    effects = ("delay",)


class GradientReverb(GradientFidelity):
    """Gradient fidelity on the noise reverb (exact reference)."""

    name = "gradient_reverb"
    version = "1"
    effects = ("reverb",)


class GradientChain(GradientFidelity):
    """Gradient fidelity on the DeepAFx-ST chain peq → compressor (exact reference)."""

    name = "gradient_chain"
    version = "1"
    effects = ("peq", "compressor")


class GradientPbPeq(BlackBoxGradientFidelity):
    """Gradient fidelity on pedalboard's EQ (black box: finite-difference reference)."""

    name = "gradient_pb_peq"
    version = "1"
    effects = ("pb_peq",)


class GradientPbCompressor(BlackBoxGradientFidelity):
    """Gradient fidelity on pedalboard's compressor (black box: finite-difference reference)."""

    name = "gradient_pb_compressor"
    version = "1"
    effects = ("pb_compressor",)


class GradientPbDistortion(BlackBoxGradientFidelity):
    """Gradient fidelity on pedalboard's distortion (black box: finite-difference reference)."""

    name = "gradient_pb_distortion"
    version = "1"
    effects = ("pb_distortion",)


class GradientPbDelay(BlackBoxGradientFidelity):
    """Gradient fidelity on pedalboard's delay (black box: finite-difference reference)."""

    name = "gradient_pb_delay"
    version = "1"
    effects = ("pb_delay",)


class GradientPbReverb(BlackBoxGradientFidelity):
    """Gradient fidelity on pedalboard's Freeverb (black box: finite-difference reference)."""

    name = "gradient_pb_reverb"
    version = "1"
    effects = ("pb_reverb",)


class GradientZamComp(BlackBoxGradientFidelity):
    """Gradient fidelity on the ZamComp VST3 (black box: finite-difference reference)."""

    name = "gradient_zam_comp"
    version = "1"
    effects = ("zam_comp",)


class GradientZamEq2(BlackBoxGradientFidelity):
    """Gradient fidelity on the ZamEQ2 VST3 (black box: finite-difference reference)."""

    name = "gradient_zam_eq2"
    version = "1"
    effects = ("zam_eq2",)
