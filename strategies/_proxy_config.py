"""Proxy architectures and pre-training sizes per budget: the one table every cache key reads.

Kept free of torch so the strategy modules that import it stay light for discovery.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

PROXY_VERSION = "4"
"""Bump when the networks, the data pipeline or the fidelity protocol change (cache key).
2: fidelity includes the gradient cosine against the exact effect.
3: and the cosine over the learned parameters alone (without the analytic output gain).
4: proxies of linear effects (``Effect.linear``: the EQ) normalize their input to unit peak
and rescale the output."""

ARCHS = ("tcn", "hypergru")
"""The architectures a strategy's ``arch`` knob chooses: those of the effects that are neither
linear, dynamics nor Hammerstein (no structured proxy)."""

AUTO_MODEL = "auto"
"""A strategy's ``model`` knob at its default: each effect gets the proxy its facts choose
(:func:`strategies._proxies.effect_arch`), at a committed budget the committed one. Any other
value names a cell of the effect-model grid (``tcn-film``, ``gru-hyper`` …), used for every
effect of the chain and pre-trained at every budget."""

FILTER_ARCH = "fir"
"""The filter hypernetwork every linear effect (``Effect.linear``) gets instead."""

GAIN_ARCH = "gain"
"""The gain computer every dynamics effect (``Effect.dynamics``) gets instead: the sample-rate
TCN spent most of a proxy training step on the compressor and still missed its loudness by
2.5 LU after 19 minutes of pre-training (music: MR-STFT 0.70, LUFS error 2.64 LU; speech:
0.85, 2.51 LU); a proxy that can only change the level runs at the frame rate."""

SHAPER_ARCH = "shaper"
"""The waveshaper + filter proxy every Hammerstein effect (``Effect.hammerstein``: the
distortion) gets instead of the sample-rate TCN, which missed the distortion's MR-STFT gate
five-fold after 18 minutes of pre-training (music: 2.45, learned-parameter gradient cosine
0.79; speech: 2.61) and cost 3.5× an autodiff step in the blind tasks. In one blind_music
step profile at standard sizes (``perf --steps``, load 4) the shaper took the neural proxy from
3.14× to 1.51× autodiff's step and the hybrid from 3.05× to 1.58× (the effects' forward and
backward: 412 → 116 ms)."""

STRUCTURED_ARCHS = (FILTER_ARCH, GAIN_ARCH, SHAPER_ARCH)
"""Architectures an effect fact chooses whatever a strategy's ``arch`` knob says."""


@dataclass(frozen=True)
class TcnConfig:
    """Conditional TCN (micro-TCN / steerable-NAFx block): conv → FiLM → PReLU, residual."""

    channels: int
    kernel: int
    blocks: int
    growth: int
    cond_dim: int


@dataclass(frozen=True)
class GruConfig:
    """HyperGRU: frame-rate GRU whose weights an MLP generates from the parameters, driving a
    time-varying FiLM of a sample-rate conv path."""

    hidden: int
    channels: int
    frame_seconds: float
    sample_kernel: int
    cond_dim: int


@dataclass(frozen=True)
class FirConfig:
    """Filter hypernetwork (linear effects): per section, a coordinate network → log-magnitude
    at ``bins`` log-spaced frequencies from ``min_hz`` → minimum-phase FIR of ``taps`` samples;
    pre-trained on a log-spectral distance (see ``strategies._proxies.SpectralLoss``)."""

    hidden: int          # width of the per-frequency MLP
    layers: int          # its linear layers before the output
    heads: int           # learned shifts and scales of the log-frequency axis per section
    cond_hidden: int     # width of the MLP from a section's parameters to its warps
    bins: int
    taps: int
    min_hz: float
    loss_floor_db: float = 60.0  # spectra floored this far below the target's peak bin
    loss_tilt: float = 0.5       # frequency weight f^-tilt (0: every FFT bin alike; 1: octaves)


@dataclass(frozen=True)
class GainConfig:
    """Gain computer (dynamics effects): frame levels every ``hop_seconds`` → causal
    conditional TCN → gain in dB per frame, interpolated to the sample rate."""

    hop_seconds: float
    channels: int
    kernel: int
    blocks: int
    growth: int
    cond_dim: int


@dataclass(frozen=True)
class ShaperConfig:
    """Waveshaper + filter (Hammerstein effects): a SiLU MLP of the input's log-level
    (``hidden`` wide, ``layers`` deep, its first layer and output offset set by a ``cond_dim``
    embedding of the parameters), evaluated at ``knots`` levels from −120 to +20 dBFS and
    interpolated at each sample, gives a memoryless gain; then the filter hypernetwork ``fir``
    filters the shaped signal."""

    hidden: int
    layers: int
    cond_dim: int
    knots: int
    fir: FirConfig


@dataclass(frozen=True)
class TrainConfig:
    """Pre-training: steps of Adam (cosine decay to lr/10) on random patches of the task audio."""

    steps: int
    batch: int
    patch_seconds: float
    lr: float
    grad_clip: float
    l1_weight: float
    fft_sizes: tuple[int, ...]    # MR-STFT resolutions of the loss (those <= patch length)
    peak_db: tuple[float, float]  # input patches are scaled to a random peak in this range
    heldout_fraction: float       # clips kept out of pre-training for the fidelity measurement
    eval_clips: int               # at most this many held-out clips are measured


@dataclass(frozen=True)
class ProxyConfig:
    """Everything sized by the budget: every architecture and the pre-training run."""

    tcn: TcnConfig
    gru: GruConfig
    fir: FirConfig
    gain: GainConfig
    train: TrainConfig
    shaper: ShaperConfig
    fir_train: TrainConfig | None = None  # the filter hypernetwork's, where it differs
    cell_train: TrainConfig | None = None  # the effect-model grid's cells', where it differs

    def arch(self, name: str) -> TcnConfig | GruConfig | FirConfig | GainConfig | ShaperConfig:
        """The configuration of architecture ``name`` (``tcn``, ``hypergru``, ``fir``,
        ``gain`` or ``shaper``)."""
        configs = {"tcn": self.tcn, "hypergru": self.gru, FILTER_ARCH: self.fir,
                   GAIN_ARCH: self.gain, SHAPER_ARCH: self.shaper}
        if name not in configs:
            raise ValueError(f"unknown proxy architecture {name!r}; choose one of "
                             f"{tuple(configs)}")
        return configs[name]

    def for_arch(self, arch: str) -> ProxyConfig:
        """This configuration with ``train`` the pre-training of ``arch``."""
        if arch == FILTER_ARCH and self.fir_train is not None:
            return replace(self, train=self.fir_train, fir_train=None)
        return self

    def for_cells(self) -> ProxyConfig:
        """This configuration with ``train`` the pre-training of the effect-model grid's
        cells."""
        if self.cell_train is not None:
            return replace(self, train=self.cell_train, cell_train=None)
        return self

    def key(self, arch: str) -> dict[str, Any]:
        """The cache-key parts this configuration contributes for ``arch``."""
        return {"arch": arch, "arch_config": asdict(self.arch(arch)),
                "train": asdict(self.for_arch(arch).train)}


_TRAIN = {"lr": 3e-3, "grad_clip": 10.0, "l1_weight": 100.0, "fft_sizes": (64, 256, 1024, 4096),
          "peak_db": (-40.0, 6.0), "heldout_fraction": 0.1}
_HELD_OUT_STANDARD = {**_TRAIN, "heldout_fraction": 0.2, "eval_clips": 32}
"""The committed proxies' held-out set: a fifth of the clips (15 music and 8 speech clips at a
tenth let one lucky measurement pass the gates; `proxies check` then missed them on test clips)."""

# The exact EQ response through this pipeline (64 random settings, noise, 24 kHz): sampled on
# 1024 log bins and made a 4096-tap minimum-phase FIR, MR-STFT 0.036 mean (1.0 max: narrow
# notches between bins), LUFS 0.008 LU; on 512 bins 0.10 mean (4.0 max); 8192 taps change
# nothing next to the grid error. Pre-trained (music, 3000 steps), 1024 bins beat 256 (MR-STFT
# 1.83 vs 1.95, LUFS 3.4 vs 3.8 LU).
FIR_STANDARD = FirConfig(hidden=32, layers=3, heads=8, cond_hidden=64, bins=1024, taps=4096,
                         min_hz=10.0)
# 1 ms frames (24 samples at 24 kHz): 1500 frames per 1.5-s clip against 36 000 samples for
# the sample-rate TCN; dilations 1, 3, 9, 27, 81 reach 485 frames, past the 0.3-s memory
GAIN_STANDARD = GainConfig(hop_seconds=0.001, channels=32, kernel=5, blocks=5, growth=3,
                           cond_dim=32)

# The distortion (music, 1000 pre-training steps, about 1 CPU minute each, held-out figures): a
# per-sample SiLU MLP of the raw, learned-gain input sample (f(a(c)·x, c) − f(0, c)) stalled at
# MR-STFT 3.0 and LUFS error 3.0 LU; the same MLP of the log-level as a gain,
# x·exp(r(log10|x|, c)), reached 0.41 and 0.19 LU; evaluated on a 1-dB grid of levels and
# interpolated, 0.42 and 0.28 LU at under half the cost (34 against 80 ms forward + backward at
# the standard blind batch, 4 × 1.5 s, on a loaded machine; the sample-rate TCN: 300–400 ms),
# where each sample costs two table look-ups instead of 32 activations. The exact tone filter
# through the filter pipeline (64 settings, white noise): 1024 log bins give MR-STFT 0.13, 256
# bins 0.53 (the low-pass's zero at Nyquist needs fine bins); 1024 taps are as good as 2048 or
# 4096 (the 500-Hz low-pass rings for a few ms). A 128 × 3 response MLP beat 64 × 2 (MR-STFT
# 0.29 against 0.42 at 1000 steps). Committed (`proxies build`, stopped at the gates): music at
# 750 steps, 0.72 CPU minutes (MR-STFT 0.47, LUFS error 0.24 LU, gradient cosine 0.999, learned
# 0.999); speech at 1000 steps, 0.96 minutes (0.43, 0.30 LU, 0.998, 0.996). Sizes are spelled
# out, not borrowed from FIR_STANDARD, so that resizing the EQ's filter does not outdate the
# committed distortion proxies.
SHAPER_STANDARD = ShaperConfig(hidden=16, layers=2, cond_dim=32, knots=141,
                               fir=FirConfig(hidden=32, layers=3, heads=8, cond_hidden=64,
                                             bins=1024, taps=1024, min_hz=10.0))

PRETRAIN: dict[str, ProxyConfig] = {
    "smoke": ProxyConfig(
        tcn=TcnConfig(channels=8, kernel=5, blocks=3, growth=8, cond_dim=16),
        gru=GruConfig(hidden=8, channels=8, frame_seconds=0.004, sample_kernel=9, cond_dim=16),
        fir=FirConfig(hidden=8, layers=2, heads=2, cond_hidden=8, bins=32, taps=256, min_hz=10.0),
        gain=GainConfig(hop_seconds=0.002, channels=8, kernel=3, blocks=3, growth=4,
                        cond_dim=16),
        train=TrainConfig(steps=15, batch=2, patch_seconds=0.25, eval_clips=4, **_TRAIN),
        shaper=ShaperConfig(hidden=8, layers=1, cond_dim=8, knots=36,
                            fir=FirConfig(hidden=8, layers=2, heads=2, cond_hidden=8, bins=32,
                                          taps=256, min_hz=10.0)),
    ),
    "quick": ProxyConfig(
        tcn=TcnConfig(channels=16, kernel=7, blocks=4, growth=8, cond_dim=32),
        gru=GruConfig(hidden=32, channels=16, frame_seconds=0.004, sample_kernel=33, cond_dim=32),
        fir=FIR_STANDARD,
        gain=GAIN_STANDARD,
        train=TrainConfig(steps=200, batch=4, patch_seconds=0.5, eval_clips=16, **_TRAIN),
        shaper=SHAPER_STANDARD,
    ),
    # the quick networks trained 27× longer: a cosine schedule over about 19 minutes of one
    # core per proxy (0.2 s a step with the fidelity checks of `proxies build`), the most
    # issue 14 allows; 3000 steps (10 min) left the music compressor at LUFS error 2.5 LU and
    # MR-STFT 0.85, still falling
    "standard": ProxyConfig(
        tcn=TcnConfig(channels=16, kernel=7, blocks=4, growth=8, cond_dim=32),
        gru=GruConfig(hidden=32, channels=16, frame_seconds=0.004, sample_kernel=33, cond_dim=32),
        fir=FIR_STANDARD,
        gain=GAIN_STANDARD,
        train=TrainConfig(steps=5500, batch=4, patch_seconds=0.5, **_HELD_OUT_STANDARD),
        shaper=SHAPER_STANDARD,
        # the filter hypernetwork's step is cheaper (0.055–0.07 s with the fidelity checks of
        # `proxies build`): 16 000 steps fit in the 20 minutes of one core
        fir_train=TrainConfig(steps=16_000, batch=4, patch_seconds=0.5, **_HELD_OUT_STANDARD),
        # the grid screens 9–11 cells per effect: 5500 steps each would be about 58 core-hours
        # for the six modeling tasks (quick steps measured at 0.03–5 s under load); 1000 steps,
        # five times quick's, about 10
        cell_train=TrainConfig(steps=1000, batch=4, patch_seconds=0.5, eval_clips=16, **_TRAIN),
    ),
    # DeepAFx-ST's released proxies: 64 channels, kernel 13, 4 blocks, batch 16, 65536-sample
    # patches, lr 3e-4, 140k steps (EQ) — days on a CPU; meant for a GPU machine.
    "full": ProxyConfig(
        tcn=TcnConfig(channels=64, kernel=13, blocks=4, growth=8, cond_dim=64),
        gru=GruConfig(hidden=64, channels=32, frame_seconds=0.004, sample_kernel=65, cond_dim=64),
        fir=FirConfig(hidden=64, layers=3, heads=8, cond_hidden=128, bins=2048, taps=8192,
                      min_hz=10.0),
        gain=GainConfig(hop_seconds=0.0005, channels=64, kernel=5, blocks=6, growth=3,
                        cond_dim=64),
        train=TrainConfig(steps=140_000, batch=16, patch_seconds=2.73, eval_clips=200,
                          **{**_TRAIN, "lr": 3e-4}),
        shaper=ShaperConfig(hidden=32, layers=2, cond_dim=64, knots=281,
                            fir=FirConfig(hidden=64, layers=3, heads=8, cond_hidden=128,
                                          bins=2048, taps=2048, min_hz=10.0)),
    ),
}


def proxy_search_space(trial: Any) -> dict[str, Any]:
    """The proxy architecture as a tuning knob (each one is pre-trained once, then cached)."""
    return {"arch": trial.suggest_categorical("arch", list(ARCHS))}
