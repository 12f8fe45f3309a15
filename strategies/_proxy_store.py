"""Committed proxies: pre-trained once per domain at the standard sizes and kept in the repository.

Each lives at ``proxies/<domain>/<effect>-<arch>.safetensors`` with a JSON record beside it (its
key parts, the weights' sha256, its fidelity against the reference DSP and the fidelity curve
of its pre-training). Runs at a budget in :data:`COMMITTED_BUDGETS` load these and never retrain
them: a missing or outdated one is an error naming the command that builds it,
``python -m bench proxies build``. Pre-training stops when every gate of :data:`GATES` has held
at :data:`GATE_STREAK` consecutive measurements, at the configured number of steps, or after
``minutes`` of one core, whichever comes first.

:func:`proxy_chain` hands a run its proxies: these committed ones at such a budget, else the
ones pre-trained on the run's audio and cached (:func:`strategies._proxies.pretrained_proxy`).
The store sits above the networks: it imports :mod:`strategies._proxies`, never the reverse.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.artefacts import load, record_path, save
from bench.errors import BenchError
from bench.sanity import PROXY_GATES, proxy_gates
from strategies._proxy_config import AUTO_MODEL, STRUCTURED_ARCHS

if TYPE_CHECKING:  # torch and the networks load only where a proxy is built or loaded
    from bench.base import RunContext
    from bench.data import TrainingAudio
    from bench.dsp import Chain
    from strategies._proxies import EffectProxy, Pretraining, ProxyChain

PROXIES_ENV = "AFX_BENCH_PROXIES"
COMMITTED_BUDGETS = ("standard",)
"""Budgets whose runs use committed proxies only (quick and smoke pre-train their own, cached)."""
GATES = PROXY_GATES
"""Fidelity a proxy must reach on held-out clips before a comparison may trust it (sanity
gate (e))."""
BUILD_MINUTES = 20.0
"""Default CPU time (one core) a proxy may pre-train for."""
EVAL_EVERY = 250
"""Pre-training steps between two fidelity measurements (the curve in the record)."""
GATE_STREAK = 2
"""Consecutive fidelity measurements at which every gate must hold before pre-training stops:
one lucky measurement is not enough (the music compressor once stopped at 1250 steps on a LUFS
error that fell from 2.2 to 0.75 LU in one measurement, and measured 1.45 LU on test clips)."""


def proxies_dir() -> Path:
    """Where committed proxies live: ``$AFX_BENCH_PROXIES`` or the repository's ``proxies/``."""
    default = Path(__file__).resolve().parents[1] / "proxies"
    return Path(os.environ.get(PROXIES_ENV, default)).expanduser()


def committed_path(root: Path, domain: str, effect: str, arch: str) -> Path:
    """The weights file of one committed proxy (its record is the ``.json`` beside it)."""
    return Path(root) / domain / f"{effect}-{arch}.safetensors"


def committed_parts(job: Pretraining, domain: str) -> dict[str, Any]:
    """What a committed proxy must have been built for: the cache key without the data
    fingerprint and torch version (kept in the record as facts), plus the domain."""
    parts = {k: v for k, v in job.key().items() if k not in ("data", "torch")}
    return {**parts, "kind": "committed_proxy", "domain": domain}


gates = proxy_gates
"""Which of :data:`GATES` hold for a proxy's fidelity figures (a missing figure fails)."""


def build_command(domain: str, effect: str, arch: str) -> str:
    """The command that (re)builds one committed proxy (a filter, gain or shaper proxy needs
    no ``--arch``: a linear, dynamics or Hammerstein effect gets one whatever the flag says)."""
    flag = "" if arch in STRUCTURED_ARCHS else f" --arch {arch}"
    return f"python -m bench proxies build --domain {domain} --effect {effect}{flag}"


def _fresh(job: Pretraining) -> EffectProxy:
    """A freshly initialised proxy for ``job``, from the fixed pre-training seed."""
    import torch

    from strategies._proxies import PRETRAIN_SEED, build_network

    with torch.random.fork_rng():
        torch.manual_seed(PRETRAIN_SEED)
        return build_network(job.effect, job.sample_rate, job.arch, job.cfg)


def load_committed(job: Pretraining, domain: str,
                   root: Path | None = None) -> tuple[EffectProxy, dict[str, Any]]:
    """The committed proxy for ``job`` in ``domain``, frozen, with its record's metadata; a
    missing, outdated or damaged one is a :class:`BenchError` that names the fix."""
    path = committed_path(root or proxies_dir(), domain, job.effect.name, job.arch)
    fix = build_command(domain, job.effect.name, job.arch)
    if not record_path(path).exists():
        raise BenchError(f"no committed {job.arch} proxy of {job.effect.name} for {domain} "
                         f"({path}): build it with `{fix}`")
    proxy = _fresh(job)
    try:
        meta = load(path, proxy, committed_parts(job, domain))
    except (ValueError, OSError, RuntimeError) as exc:
        raise BenchError(f"committed proxy {path} cannot be used ({exc}): rebuild it with "
                         f"`{fix} --force`") from exc
    proxy.requires_grad_(False)
    proxy.eval()
    return proxy, {**meta, "reused": True, "committed": str(path)}


def confirm(job: Pretraining, domain: str, root: Path | None = None) -> dict[str, Any]:
    """The committed proxy for ``job`` measured on ``job.audio`` (clips it never saw: building
    stops when the gates hold on its held-out clips, so those figures are chosen, not only
    measured), at most ``eval_clips`` of them; the figures and which gates hold."""
    from strategies._proxies import fidelity

    proxy, _ = load_committed(job, domain, root)
    figures = fidelity(proxy, job, job.audio[: job.cfg.train.eval_clips])
    return {**figures, "gates": gates(figures), "gates_pass": all(gates(figures).values())}


def is_current(job: Pretraining, domain: str, root: Path) -> bool:
    """Whether a committed proxy exists for exactly this job (same code version and sizes)."""
    path = committed_path(root, domain, job.effect.name, job.arch)
    if not record_path(path).exists():
        return False
    from bench.results import canonical_json

    record = json.loads(record_path(path).read_text())
    return record.get("parts") == canonical_json(committed_parts(job, domain))


def train_to_gates(proxy: EffectProxy, job: Pretraining, minutes: float, eval_every: int,
                   on_eval: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Pre-train ``proxy`` in place until the gates have held at :data:`GATE_STREAK`
    consecutive measurements, the configured steps are done or ``minutes`` of this process's
    CPU time are spent; measure fidelity every ``eval_every`` steps on held-out clips. Returns
    the metadata: final figures, the curve, why it stopped."""
    import torch

    from strategies._proxies import Pretrainer, fidelity, fingerprint

    tc = job.cfg.train
    trainer = Pretrainer(proxy, job)
    held = trainer.held[: tc.eval_clips]
    curve: list[dict[str, Any]] = []
    cpu0, wall0 = time.process_time(), time.perf_counter()
    stopped, step, figures = "steps", 0, {}
    for step in range(1, tc.steps + 1):
        proxy.train()
        trainer.step()
        over_time = time.process_time() - cpu0 > 60 * minutes
        if step % eval_every and step != tc.steps and not over_time:
            continue
        proxy.eval()
        figures = fidelity(proxy, job, held)
        point = {"step": step, "cpu_s": time.process_time() - cpu0,
                 "wall_s": time.perf_counter() - wall0,
                 **{k: figures.get(k) for k in GATES}}
        curve.append(point)
        if on_eval is not None:
            on_eval(point)
        if gate_streak(curve) >= GATE_STREAK:
            stopped = "gates"
            break
        if over_time:
            stopped = "time"
            break
    proxy.eval()
    return {"steps_run": step, "stopped": stopped, "cpu_s": time.process_time() - cpu0,
            "pretrain_s": time.perf_counter() - wall0, "pretrain_steps": step,
            "pretrain_dsp_evals": step * tc.batch, "minutes_limit": minutes,
            "eval_every": eval_every, "curve": curve, **figures,
            "gates": gates(figures), "gates_pass": all(gates(figures).values()),
            "gate_streak": gate_streak(curve), "gate_streak_needed": GATE_STREAK,
            "data": fingerprint(job.audio), "clips": len(job.audio),
            "torch": torch.__version__}


def gate_streak(curve: list[dict[str, Any]]) -> int:
    """How many of the curve's last measurements in a row pass every gate."""
    streak = 0
    for point in reversed(curve):
        if not all(gates(point).values()):
            break
        streak += 1
    return streak


def build_committed(job: Pretraining, domain: str, root: Path, minutes: float = BUILD_MINUTES,
                    eval_every: int = EVAL_EVERY, progress: bool = True) -> dict[str, Any]:
    """Pre-train one proxy (see :func:`train_to_gates`) and commit it under ``root``."""
    proxy = _fresh(job)
    say = print if progress else (lambda *_: None)
    say(f"pre-training the {job.arch} proxy of {job.effect.name} for {domain}: up to "
        f"{job.cfg.train.steps} steps or {minutes:g} min of one core, fidelity every "
        f"{eval_every} steps")

    def report(point: dict[str, Any]) -> None:
        say(f"  step {point['step']:>5}  {point['cpu_s']:7.1f} s  " + "  ".join(
            f"{k} {point[k]:.3g}" for k in GATES if point.get(k) is not None))

    meta = train_to_gates(proxy, job, minutes, eval_every, report)
    path = committed_path(root, domain, job.effect.name, job.arch)
    path.parent.mkdir(parents=True, exist_ok=True)
    save(path, proxy, meta, committed_parts(job, domain))
    verdict = "every gate holds" if meta["gates_pass"] else "gates failed: " + ", ".join(
        k for k, ok in meta["gates"].items() if not ok)
    say(f"  saved {path} after {meta['steps_run']} steps ({meta['stopped']}); {verdict}")
    return meta


def status(root: Path | None = None) -> list[dict[str, Any]]:
    """Every committed proxy under ``root``: effect, domain, arch, fidelity and gates."""
    root = Path(root or proxies_dir())
    rows = []
    for record_file in sorted(root.glob("*/*.json")):
        record = json.loads(record_file.read_text())
        meta, parts = record.get("meta", {}), json.loads(record.get("parts", "{}"))
        rows.append({"effect": parts.get("effect"), "domain": parts.get("domain"),
                     "arch": parts.get("arch"), "lufs_error": meta.get("lufs_error"),
                     "mrstft": meta.get("mrstft"),
                     "grad_cosine_median": meta.get("grad_cosine_median"),
                     "grad_cosine_learned_median": meta.get("grad_cosine_learned_median"),
                     "gates_pass": bool(meta.get("gates_pass")), "gates": meta.get("gates"),
                     "steps_run": meta.get("steps_run"), "cpu_s": meta.get("cpu_s"),
                     "stopped": meta.get("stopped"), "version": parts.get("version"),
                     "curve": meta.get("curve", []),
                     "path": str(record_file.with_suffix(".safetensors"))})
    return rows


def proxy_chain(chain: Chain, sample_rate: int, ctx: RunContext, audio: TrainingAudio,
                arch: str, model: str = AUTO_MODEL, screened: bool = False) -> ProxyChain:
    """Proxies for every effect of ``chain`` at ``ctx``'s budget. With ``model`` at its default
    (:data:`~strategies._proxy_config.AUTO_MODEL`): the ones committed for ``audio``'s domain
    at a budget that uses committed proxies (never retrained), else pre-trained on ``audio``
    and cached; ``arch`` is then the architecture of the effects that are neither linear,
    dynamics nor Hammerstein (:func:`strategies._proxies.effect_arch`). Otherwise ``model``
    names a cell of the effect-model grid (:mod:`strategies._architectures`) that every effect
    gets, pre-trained on ``audio`` and cached at every budget (a cell that cannot model one of
    the effects is a one-line error naming the cells that can).
    They are made for ``audio``'s sample rate (when it states one: a model tested at another
    rate keeps the proxies it trained with), else for ``sample_rate``.

    Each proxy's fidelity, real-time factor, pre-training cost, architecture and the ``model``
    asked for go to ``ctx.extra["proxies"][effect name]``. ``screened``: the pre-training is
    the run's whole work (the effect-model grid), so its held-out loss goes to the tuner every
    ``budget.val_every`` steps, which may stop it (successive halving over the cells).
    """
    from strategies import _architectures as architectures
    from strategies._proxies import (
        SCREEN,
        Pretraining,
        ProxyChain,
        effect_arch,
        pretrained_proxy,
    )
    from strategies._proxy_config import PRETRAIN

    cfg = PRETRAIN[ctx.budget.name]
    report = ctx.extra.setdefault("proxies", {})
    built: dict[str, EffectProxy] = {}
    jobs = []
    rate = audio.sample_rate or sample_rate
    for effect in chain.effects:
        if effect.name not in built:
            name = (effect_arch(effect.name, arch) if model == AUTO_MODEL
                    else architectures.checked(model, effect))
            jobs.append(Pretraining(effect, rate, name, cfg, audio.clips, ctx.device))
            if ctx.budget.name in COMMITTED_BUDGETS and model == AUTO_MODEL:
                built[effect.name], meta = load_committed(jobs[-1], audio.domain)
            else:
                offset = len(built) * jobs[-1].cfg.train.steps  # steps keep rising over effects
                built[effect.name], meta = pretrained_proxy(
                    jobs[-1], ctx.cache_dir, ctx.progress,
                    (lambda step, value, o=offset: ctx.intermediate(o + step, value))
                    if screened else None, ctx.budget.val_every)
            report[effect.name] = {**{k: v for k, v in meta.items() if k not in ("curve", SCREEN)},
                                   "arch": name, "model": model, "parameters": sum(
                p.numel() for p in built[effect.name].parameters())}
    return ProxyChain([built[e.name] for e in chain.effects], ctx.counters, jobs).to(ctx.device)
