"""The shared training step: its phase clock, the chain task's winner-takes-all schedule, and
the `perf --steps` profile's structure (no timing thresholds: speed lives in the benchmark)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.base import RunContext  # noqa: E402
from bench.budgets import get_budget  # noqa: E402
from bench.gradient import PHASES, StepClock, Stepper, Training  # noqa: E402

SLEEP = {"learner_forward": 0.03, "effect_forward": 0.04, "loss_forward": 0.05,
         "effect_backward": 0.06}


class _SlowEffect(torch.autograd.Function):
    """Identity whose forward and backward each take a known minimum time."""

    @staticmethod
    def forward(ctx, x, p):
        time.sleep(SLEEP["effect_forward"])
        return x * p

    @staticmethod
    def backward(ctx, grad):
        time.sleep(SLEEP["effect_backward"])
        return None, grad


class _Effect(torch.nn.Module):
    def forward(self, x, p):
        return _SlowEffect.apply(x, p)


class _Learner(torch.nn.Linear):
    def forward(self, x):
        time.sleep(SLEEP["learner_forward"])
        return super().forward(x)


def test_clock_puts_each_phase_where_it_ran():
    learner, effect = _Learner(3, 3), _Effect()

    def batch_loss(step):
        x = torch.ones(2, 3)
        y = effect(x, learner(x))
        time.sleep(SLEEP["loss_forward"])
        return y.square().mean()

    training = Training([learner], batch_loss, effects=[effect])
    clock = StepClock(training)
    Stepper(training, lr=0.01, grad_clip=1.0).step(0, clock)
    phases = clock.phases()
    assert list(phases) == list(PHASES)
    assert all(v >= 0 for v in phases.values())
    for name, seconds in SLEEP.items():
        assert phases[name] >= seconds, (name, phases)
    # the slept time went to its own phase and not to its neighbours
    assert phases["learner_backward"] < SLEEP["effect_backward"]
    assert phases["loss_backward"] < SLEEP["effect_backward"]
    total = clock.marks["optimizer"] - clock.t0
    assert sum(phases.values()) == pytest.approx(total, rel=1e-6)
    clock.close()
    assert not learner._forward_hooks and not effect._forward_pre_hooks


def _chain_setup(tmp_path: Path):
    from bench.registry import registry

    task = registry("task").get("chain_speech")()
    strategy = registry("strategy").get("autodiff")()
    ctx = RunContext(budget=task.sized(get_budget("smoke")), seed=0, split="train",
                     results_dir=tmp_path, cache_dir=Path.home() / ".cache" / "afx-bench",
                     progress=False)
    return task, strategy, ctx


def test_winners_only_step_has_the_gradient_of_the_all_heads_formulation(tmp_path):
    """Rendering only each example's winning chain gives the same loss and the same gradient
    as rendering every candidate with a gradient and gathering the winners (the old step)."""
    from tasks.chain import rerender_loss

    task, strategy, ctx = _chain_setup(tmp_path)
    training, layers = task.training(strategy, ctx)
    model, wta = training.modules[0], training.effects[0]
    examples = task.examples("train", ctx, 4)
    dry, wet = (torch.from_numpy(a).float() for a in (examples.dry, examples.wet))

    def gradient(loss_of):
        model.zero_grad()
        loss = loss_of(*model(wet))
        loss.backward()
        return loss.detach(), torch.cat([torch.zeros_like(p).flatten() if p.grad is None
                                         else p.grad.flatten() for p in model.parameters()])

    def winners_only(heads, logits):
        y, _ = wta(dry, wet, heads)
        return rerender_loss(y, wet).mean()

    def all_heads(heads, logits):
        per_head = torch.stack([rerender_loss(layer(dry, p), wet)
                                for layer, p in zip(layers, heads, strict=True)], dim=1)
        return per_head.gather(1, per_head.detach().argmin(1)[:, None]).mean()

    new_loss, new_grad = gradient(winners_only)
    old_loss, old_grad = gradient(all_heads)
    torch.testing.assert_close(new_loss, old_loss, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(new_grad, old_grad, rtol=1e-4, atol=1e-6 * old_grad.abs().max())
    assert old_grad.abs().max() > 0


def test_winners_are_the_best_reference_renders_and_are_counted(tmp_path):
    from bench.parallel import render
    from tasks.chain import rerender_loss

    task, strategy, ctx = _chain_setup(tmp_path)
    training, _ = task.training(strategy, ctx)
    model, wta = training.modules[0], training.effects[0]
    examples = task.examples("train", ctx, 3)
    dry, wet = (torch.from_numpy(a).float() for a in (examples.dry, examples.wet))
    before = ctx.counters.dsp_evals
    with torch.no_grad():
        heads, _ = model(wet)
        winner = wta.winners(dry, wet, heads)
        scores = torch.stack([rerender_loss(torch.from_numpy(render(
            chain, examples.dry.astype(np.float64), p.double().numpy(), ctx.budget.sample_rate))
            .float(), wet) for chain, p in zip(task.candidate_chains, heads, strict=True)], 1)
    assert ctx.counters.dsp_evals - before == 3 * len(task.candidate_chains)
    assert winner.tolist() == scores.argmin(1).tolist()


def test_step_profile_reports_every_phase_and_the_ratios(tmp_path):
    from bench.report.steps import render_markdown
    from bench.step_profile import profile_steps

    data = profile_steps(("synthetic_speech", "chain_speech"), ["autodiff", "spsa"],
                         budget="smoke", repeats=1, warmup=1, progress=False)
    assert set(data["steps"]) == {"synthetic_speech", "chain_speech"}
    for rows in data["steps"].values():
        assert set(rows) == {"autodiff", "spsa"}
        for row in rows.values():
            assert set(row["phases_s"]) == set(PHASES)
            assert row["median_s"] == pytest.approx(sum(row["phases_s"].values()), rel=1e-6)
    synth, chain = data["steps"]["synthetic_speech"], data["steps"]["chain_speech"]
    assert data["step_vs_autodiff"]["spsa"] == pytest.approx(
        synth["spsa"]["median_s"] / synth["autodiff"]["median_s"])
    assert data["chain_vs_synthetic"]["autodiff"] == pytest.approx(
        chain["autodiff"]["median_s"] / synth["autodiff"]["median_s"])
    assert data["checks"]["step_vs_autodiff.spsa"]["target"] == 1.2
    assert synth["spsa"]["phases_s"]["effect_backward"] > 0  # SPSA renders in its backward
    assert data["device"] == "cpu"  # nothing crosses: the reference DSP is on the same device
    assert all(row["transfers"] == row["transfer_bytes"] == 0
               for rows in data["steps"].values() for row in rows.values())
    text = render_markdown({**data, "timestamp": "t", "git_sha": "abc", "machine": {}})
    assert "| synthetic_speech | spsa |" in text and "chain_vs_synthetic.spsa" in text
    assert "transfers (MB) |" in text and " | 0 (0.00) |" in text
    assert np.isfinite(data["step_vs_autodiff"]["spsa"])
