"""Steerable neural audio effects from one example (Steinmetz & Reiss, "Steerable discovery of
neural audio effects", NeurIPS 2021 ML4CD): `python -m bench steer`.

A conditional TCN with FiLM (the grid's ``tcn-film`` block, :class:`ConditionalTcn`) whose
receptive field matches the effect's memory (at most 2 s: ≈300 ms for the compressor, 2 s for
the reverb) is trained on one input/output pair of a real effect — one music clip and the
reference DSP's rendering of it at a fixed setting — with its 2-D conditioning held at 0. The
conditioning is then swept over a grid on [−5, 5]², and at every point one perceptual measure
of the steered effect is taken: the output's integrated loudness (LUFS) for the compressor, the
reverberation time of its impulse response (T60 from the Schroeder backward integral,
:func:`bench.metrics.modeling.t60`) for the reverb. The steered effect's fidelity to the target
at c = 0 (MR-STFT, ESR, LUFS error, on the training clip and on a held-out one) says how well
the one example was learned.

The JSON goes to ``<results>/steer/`` and listening examples to
``<results>/audio/<budget>/steer_<effect>/``; `python -m bench report` draws the heatmaps.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.base import Counters, RunContext
from bench.errors import BenchError
from bench.results import STEER_SUBDIR

CONTROL_RANGE = 5.0
"""The conditioning is swept over [−CONTROL_RANGE, CONTROL_RANGE]² (the paper's)."""
MAX_RF_SECONDS = 2.0
"""The receptive field matches the effect's memory up to this (the paper's reverb TCN)."""
DOMAIN = "music"
MEASURES = {"lufs": "integrated loudness of the output (LUFS)",
            "t60": "T60 of the impulse response (s, Schroeder backward integral)"}
DEFAULT_MEASURE = {"reverb": "t60"}
"""The heatmap's measure per effect (LUFS for the others)."""
TARGET_SETTINGS = {
    "compressor": {"threshold": -30.0, "ratio": 8.0, "attack": 0.005, "release": 0.1,
                   "knee": 6.0, "makeup": 0.0},
    "reverb": {"decay": 1.0, "damping": 0.3, "pre_delay": 0.01, "mix": 0.5},
}
"""The one setting of the target effect (physical values); other effects use their defaults."""
CORNERS = ((0.0, 0.0), (-CONTROL_RANGE, -CONTROL_RANGE), (-CONTROL_RANGE, CONTROL_RANGE),
           (CONTROL_RANGE, -CONTROL_RANGE), (CONTROL_RANGE, CONTROL_RANGE))
"""Controls whose output is saved for listening."""


@dataclass(frozen=True)
class SteerSizes:
    """The network, the training and the sweep at one budget."""

    steps: int
    grid: int               # points per axis of the control sweep
    channels: int
    kernel: int
    blocks: int
    growth: int
    cond_dim: int
    lr: float
    batch: int
    excerpt_seconds: float  # output samples per training excerpt (after the receptive field)
    impulse_seconds: float  # length of the impulse response the T60 is measured on


SIZES = {
    "smoke": SteerSizes(steps=20, grid=3, channels=4, kernel=5, blocks=3, growth=10,
                        cond_dim=8, lr=3e-3, batch=2, excerpt_seconds=0.25,
                        impulse_seconds=1.0),
    "quick": SteerSizes(steps=1000, grid=11, channels=16, kernel=13, blocks=4, growth=10,
                        cond_dim=32, lr=2e-3, batch=2, excerpt_seconds=0.5,
                        impulse_seconds=2.0),
    # the paper's 2500 steps; the sizes of micro-TCN's uTCN-300 blocks (kernel 13, growth 10)
    "standard": SteerSizes(steps=2500, grid=21, channels=16, kernel=13, blocks=4, growth=10,
                           cond_dim=32, lr=2e-3, batch=2, excerpt_seconds=0.5,
                           impulse_seconds=3.0),
    "full": SteerSizes(steps=2500, grid=41, channels=32, kernel=13, blocks=4, growth=10,
                       cond_dim=64, lr=1e-3, batch=4, excerpt_seconds=1.0,
                       impulse_seconds=4.0),
}


def target_setting(effect: Any, sample_rate: int) -> np.ndarray:
    """The normalized setting of the target effect (``TARGET_SETTINGS`` or its defaults)."""
    values = TARGET_SETTINGS.get(effect.name, {})
    return np.array([[s.to_normalized(values.get(s.name, s.default))
                      for s in effect.params(sample_rate)]])


def pick_clip(clips: np.ndarray) -> np.ndarray:
    """The loudest of the clips (RMS), so the effect has something to act on; float32."""
    return clips[int(np.argmax(np.sqrt(np.mean(clips**2, axis=1))))].astype(np.float32)


class Steering:
    """One steering experiment: the pair, the network, its training and the sweep."""

    def __init__(self, effect: Any, ctx: RunContext, sizes: SteerSizes, measure: str) -> None:
        import torch

        from strategies._proxy_config import TcnConfig
        from strategies._proxy_nets import ConditionalTcn, matched_dilations
        from tasks import _audio

        self.effect, self.ctx, self.sizes, self.measure = effect, ctx, sizes, measure
        self.sr = ctx.budget.sample_rate
        self.p = target_setting(effect, self.sr)
        self.x = pick_clip(_audio.proxy_audio(DOMAIN, ctx).clips)
        self.heldout = pick_clip(_audio.proxy_audio(DOMAIN, ctx, split="test").clips)
        self.y = self.render(self.x)
        rf_seconds = min(effect.memory_seconds, MAX_RF_SECONDS)
        cfg = TcnConfig(sizes.channels, sizes.kernel, sizes.blocks, sizes.growth, sizes.cond_dim)
        torch.manual_seed(ctx.seed)
        self.net = ConditionalTcn(2, cfg, matched_dilations(
            sizes.kernel, sizes.blocks, sizes.growth, round(rf_seconds * self.sr)))

    def render(self, x: np.ndarray) -> np.ndarray:
        """The target effect on one row (reference DSP, counted apart: no strategy's work)."""
        return Counters().render(self.effect, x[None], self.p, self.sr, workers=1)[0]

    def steer(self, x: np.ndarray, controls: np.ndarray, batch: int = 8) -> np.ndarray:
        """The network's output for ``x`` at each row of ``controls`` (n, 2), no gradient."""
        import torch

        with torch.no_grad():
            xs = torch.from_numpy(np.ascontiguousarray(x, np.float32))
            return np.concatenate([
                self.net(xs.expand(len(c), -1), torch.from_numpy(c).float()).numpy()
                for c in np.array_split(controls, max(1, math.ceil(len(controls) / batch)))])

    def train(self) -> dict[str, Any]:
        """Adam on random excerpts of the one pair, conditioning at 0; MR-STFT + 100·L1,
        each excerpt's output and target scaled by the clip's peak."""
        import torch

        from bench.metrics import mrstft_loss

        s, rf = self.sizes, self.net.receptive_field
        n = round(s.excerpt_seconds * self.sr)
        loss_fn = mrstft_loss(fft_sizes=[k for k in (64, 256, 1024, 4096) if k <= n])
        pad = np.concatenate([np.zeros(rf - 1, np.float32), self.x])
        target = torch.from_numpy(np.ascontiguousarray(self.y, np.float32))
        scale = 1 / max(float(np.abs(self.x).max()), 1e-4)
        opt = torch.optim.Adam(self.net.parameters(), lr=s.lr)
        rng = np.random.default_rng(self.ctx.seed)
        zeros = torch.zeros(s.batch, 2)
        curve, cpu = [], time.process_time()
        self.net.train()
        for step in range(1, s.steps + 1):
            starts = rng.integers(0, len(self.x) - n + 1, size=s.batch)
            xb = torch.from_numpy(np.stack([pad[a:a + rf - 1 + n] for a in starts]))
            tb = torch.stack([target[a:a + n] for a in starts])
            out = self.net(xb, zeros)[:, rf - 1:] * scale
            tb = tb * scale
            loss = loss_fn(out[:, None], tb[:, None]) + 100 * (out - tb).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % max(1, s.steps // 20) == 0 or step == s.steps:
                curve.append({"step": step, "loss": float(loss.detach())})
        self.net.eval()
        return {"steps": s.steps, "cpu_s": time.process_time() - cpu, "curve": curve,
                "receptive_field_s": rf / self.sr, "parameters": sum(
                    p.numel() for p in self.net.parameters())}

    def value(self, audio: np.ndarray, impulse: bool) -> float | None:
        """The measure of one output (None where it is undefined, e.g. no 25-dB decay)."""
        from bench.metrics import integrated_loudness
        from bench.metrics.checks import MetricError
        from bench.metrics.modeling import t60

        try:
            if self.measure == "t60":
                return t60(audio, self.sr) if impulse else None
            return float(integrated_loudness(audio, self.sr)[0])
        except MetricError:
            return None

    def probe(self) -> np.ndarray:
        """What the measure is taken on: the training clip (loudness) or a unit impulse
        followed by ``impulse_seconds`` of silence, after the receptive field (T60)."""
        if self.measure != "t60":
            return self.x
        impulse = np.zeros(round(self.sizes.impulse_seconds * self.sr), np.float32)
        impulse[0] = 1.0
        return impulse

    def sweep(self) -> dict[str, Any]:
        """The measure at every point of the control grid, of the target effect and of the
        unprocessed input (loudness only)."""
        axis = np.linspace(-CONTROL_RANGE, CONTROL_RANGE, self.sizes.grid)
        c1, c2 = np.meshgrid(axis, axis, indexing="ij")
        controls = np.stack([c1.ravel(), c2.ravel()], 1)
        probe, impulse = self.probe(), self.measure == "t60"
        outputs = self.steer(probe, controls)
        values = [self.value(o, impulse) for o in outputs]
        grid = [values[i * len(axis):(i + 1) * len(axis)] for i in range(len(axis))]
        return {"controls": axis.tolist(), "values": grid,
                "input_value": None if impulse else self.value(probe, impulse),
                "target_value": self.value(self.render(probe), impulse),
                "model_at_zero": self.value(self.steer(probe, np.zeros((1, 2)))[0], impulse),
                "structure": structure(np.array(grid, dtype=float))}

    def fidelity(self) -> dict[str, dict[str, float | None]]:
        """The steered effect at c = 0 against the target effect: on the training clip and on
        a held-out clip (MR-STFT, ESR, LUFS error; None where undefined)."""
        from tasks.modeling import fidelity

        out = {}
        for name, clip in (("train_clip", self.x), ("heldout_clip", self.heldout)):
            scores = fidelity(self.steer(clip, np.zeros((1, 2))), self.render(clip)[None],
                              self.sr)
            out[name] = {k: v if isinstance(v, float) else None for k, v in scores.items()}
        return out

    def save_audio(self, results_dir: Path, budget: str, seed: int) -> None:
        """The input, the target and the steered outputs at c = 0 and the grid's corners."""
        root = results_dir / "audio" / budget / f"steer_{self.effect.name}" / f"seed{seed}"
        save = self.ctx.save_audio
        for who, signals in (("dsp", {"input": self.x[None], "target": self.y[None]}),
                             *((corner_name(c), {"output": self.steer(self.x, np.array([c]))})
                               for c in CORNERS)):
            self.ctx.audio_dir = root / who
            save(signals, count=1)


def corner_name(c: tuple[float, float]) -> str:
    """A listening column's name for the control c: ``c+0+0``, ``c-5+5`` …"""
    return f"c{c[0]:+g}{c[1]:+g}"


def structure(grid: np.ndarray) -> dict[str, float | None]:
    """How much a heatmap varies and how smoothly: its range, the share of its variance a
    plane in (c₁, c₂) explains, and the median step between grid neighbours as a share of the
    range (near 0: smooth; about 1/3 or more: noise). None where undefined."""
    ok = np.isfinite(grid)
    span = float(np.nanmax(grid) - np.nanmin(grid)) if ok.sum() >= 3 else 0.0
    if span <= 0:
        return {"range": span if ok.sum() >= 3 else None, "plane_r2": None,
                "neighbour_step": None}
    c1, c2 = np.meshgrid(*(np.arange(n) for n in grid.shape), indexing="ij")
    design = np.stack([np.ones(ok.sum()), c1[ok], c2[ok]], 1)
    fit, *_ = np.linalg.lstsq(design, grid[ok], rcond=None)
    r2 = 1 - float(np.var(grid[ok] - design @ fit) / np.var(grid[ok]))
    steps = np.concatenate([np.abs(np.diff(grid, axis=a)).ravel() for a in (0, 1)])
    return {"range": span, "plane_r2": r2,
            "neighbour_step": float(np.median(steps[np.isfinite(steps)])) / span}


def run_steer(effect_name: str, budget_name: str, measure: str | None, steps: int | None,
              grid: int | None, seed: int, results_dir: Path, cache_dir: Path | None,
              data_root: Path | None) -> Path:
    """Train, sweep and measure; write ``<results>/steer/<effect>-<budget>-seed<seed>.json``
    and the listening examples; return the JSON's path."""
    import torch

    from bench import env
    from bench.budgets import get_budget
    from bench.data import default_cache_dir
    from bench.registry import discover, registry

    discover()
    effect = registry("effect").get(effect_name)()
    measure = measure or DEFAULT_MEASURE.get(effect.name, "lufs")
    if measure not in MEASURES:
        raise BenchError(f"unknown measure {measure!r}; choose one of {', '.join(MEASURES)}")
    if (steps is not None and steps < 1) or (grid is not None and grid < 2):
        raise BenchError("--steps must be >= 1 and --grid >= 2")
    budget = get_budget(budget_name)
    sizes = SIZES[budget.name]
    sizes = SteerSizes(**{**asdict(sizes), **{k: v for k, v in (("steps", steps),
                                                                 ("grid", grid)) if v}})
    ctx = RunContext(budget=budget, seed=seed, split="train", results_dir=results_dir,
                     cache_dir=Path(cache_dir) if cache_dir else default_cache_dir(),
                     data_root=data_root, progress=False)
    threads = torch.get_num_threads()
    env.limit_threads()
    try:
        experiment = Steering(effect, ctx, sizes, measure)
        training = experiment.train()
        swept = experiment.sweep()
        fidelity = experiment.fidelity()
        experiment.save_audio(Path(results_dir), budget.name, seed)
    finally:
        torch.set_num_threads(threads)
    now = datetime.now(UTC)
    data = {"kind": "steer", "effect": effect.name, "budget": budget.name, "seed": seed,
            "sample_rate": experiment.sr, "domain": DOMAIN, "measure": measure,
            "measure_what": MEASURES[measure],
            "setting": {s.name: float(s.to_physical(v)) for s, v in
                        zip(effect.params(experiment.sr), experiment.p[0], strict=True)},
            "sizes": asdict(sizes), "training": training, **swept,
            "fidelity_at_zero": fidelity, "machine_id": env.machine_id(),
            "git_sha": env.git_state()[0], "timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
    path = Path(results_dir) / STEER_SUBDIR / f"{effect.name}-{budget.name}-seed{seed}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path
