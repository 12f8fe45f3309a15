"""The shared training loop at the `standard` budget: fresh batches, early stopping with the
best checkpoint restored, the cosine schedule and the convergence flag."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from bench.base import RunContext  # noqa: E402
from bench.budgets import get_budget  # noqa: E402
from bench.gradient import Training, TrainingLog, train  # noqa: E402
from tasks._batches import training_batches  # noqa: E402


def _ctx(tmp_path, **budget):
    b = dataclasses.replace(get_budget("smoke"), **budget)
    return RunContext(budget=b, seed=0, split="val", results_dir=tmp_path, cache_dir=tmp_path,
                      progress=False)


def test_early_stopping_restores_the_checkpoint_of_the_lowest_check(tmp_path):
    layer = torch.nn.Linear(2, 1)
    script = iter([5.0, 4.0, 3.0, 3.01, 2.995, 3.2, 3.3, 9.0, 9.0, 9.0])
    weights = []

    def val_loss():
        weights.append(layer.weight.detach().clone())
        return next(script)

    ctx = _ctx(tmp_path, steps=100, val_every=2, patience=3)
    training = Training([layer], lambda step: layer(torch.ones(1, 2)).square().sum(), val_loss)
    log = train(training, ctx, lr=0.1, grad_clip=10.0)
    # checks at steps 2, 4, …: 3.0 at step 6 is the last 1% improvement; 3.01, 2.995, 3.2 are
    # three checks without one, so training stops at step 12; 2.995 (step 10) is the lowest
    assert log.stopped_early and log.steps_run == 12 and ctx.counters.steps == 12
    assert log.best_step == 10
    torch.testing.assert_close(layer.weight.detach(), weights[4])
    assert log.converged() is True
    assert log.summary()["converged"] is True and log.summary()["best_step"] == 10


def test_without_patience_training_runs_every_step_and_keeps_the_last_weights(tmp_path):
    layer = torch.nn.Linear(2, 1)
    values = iter(np.linspace(5, 1, 8))
    ctx = _ctx(tmp_path, steps=16)
    log = train(Training([layer], lambda step: layer(torch.ones(1, 2)).square().sum(),
                         lambda: float(next(values))), ctx, lr=0.1, grad_clip=10.0)
    assert log.steps_run == 16 and not log.stopped_early and log.best_step == 16
    assert log.converged() is False  # still falling by far more than 2% at the end


@pytest.mark.parametrize(("tail", "expected"), [
    ([1.5, 1.0, 1.01], True), ([1.5, 1.0, 0.9], False),
    ([1.5, 1.0, 1.1], True),   # a noisy last check: the best loss, which is restored, is flat
    ([1.0, 1.1, 0.99], True),  # the last two checks differ by 10 %, the best losses by 1 %
    ([1.0, 1.1, 0.95], False),
])
def test_converged_means_a_flat_best_loss_over_the_last_fifth(tail, expected):
    log = TrainingLog(curve=[{"step": s, "val_loss": v}
                             for s, v in zip((20, 40, 60, 80, 100), [3.0, 2.0, *tail],
                                             strict=True)],
                      step_seconds=[0.0] * 100)
    assert log.converged() is expected


def test_cosine_schedule_ends_at_a_tenth_of_the_learning_rate(tmp_path):
    layer = torch.nn.Linear(1, 1)
    seen = []
    ctx = _ctx(tmp_path, steps=10, lr_schedule="cosine")

    def batch_loss(step):
        seen.append(step)
        return layer(torch.ones(1, 1)).sum()

    training = Training([layer], batch_loss)
    from bench import gradient

    original = gradient.Stepper.step
    rates = []

    def spy(self, index, clock=None):
        out = original(self, index, clock)
        rates.append(self.opt.param_groups[0]["lr"])
        return out

    gradient.Stepper.step = spy
    try:
        train(training, ctx, lr=0.5, grad_clip=10.0)
    finally:
        gradient.Stepper.step = original
    assert rates[-1] == pytest.approx(0.05) and rates[0] < 0.5 and len(seen) == 10


def test_fresh_batches_differ_every_step_and_repeat_for_the_same_step():
    budget = dataclasses.replace(get_budget("smoke"), fresh_examples=True, batch_size=3)
    made = []

    def make(n, draw):
        made.append((n, draw))
        return np.random.default_rng(draw).standard_normal((n, 4))

    batches = training_batches(make, len, budget, np.random.default_rng(0))
    (a, rows), (b, _), (a2, _) = batches(0), batches(1), batches(0)
    assert made == [(3, 0), (3, 1), (3, 0)] and rows.tolist() == [0, 1, 2]
    assert not np.allclose(a, b) and np.array_equal(a, a2)


def test_a_fixed_set_is_built_once_and_sampled_by_rows():
    budget = dataclasses.replace(get_budget("smoke"), train_examples=10, batch_size=4)
    made = []

    def make(n, draw):
        made.append((n, draw))
        return np.arange(n)

    batches = training_batches(make, len, budget, np.random.default_rng(0))
    _, rows = batches(0)
    batches(1)
    assert made == [(10, None)] and len(rows) == 4 and len(set(rows.tolist())) == 4
