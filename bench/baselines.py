"""What the runtime comparisons are measured against, declared once outside the report layer:
the strategy with exact gradients, the DeepAFx-ST chain and the step-time ratios DeepAFx-ST
published. Reports and profiles read these names here and never spell a plugin themselves."""

from __future__ import annotations

EXACT_STRATEGY = "autodiff"
"""The strategy whose exact gradients every other strategy's step time is divided by."""

DEEPAFX_ST_CHAIN = ("peq", "compressor")
"""The effect chain of DeepAFx-ST (Steinmetz, Bryan, Reiss, JAES 2022)."""

DEEPAFX_ST_GPU_STEP_SECONDS = {"autodiff": 0.3086, "spsa": 0.4132, "neural_proxy": 0.4346,
                               "proxy_hybrid": 0.4339}
"""DeepAFx-ST's training-step seconds (GTX 1080 Ti, batch 4, 5-s clips at 24 kHz, 1000 iterations
of its timing script): autodiff 0.3086 s, SPSA 0.4132 s, proxy 0.4346 s and the "full hybrid"
0.4339 s, which that script timed on the proxy-only path."""
DEEPAFX_ST_TIMING = (4, 5.0)
"""The batch size and clip seconds (at 24 kHz) of those timings."""
DEEPAFX_ST_GPU_STEP_RATIOS = {s: t / DEEPAFX_ST_GPU_STEP_SECONDS[EXACT_STRATEGY]
                              for s, t in DEEPAFX_ST_GPU_STEP_SECONDS.items()
                              if s != EXACT_STRATEGY}
"""Those step times relative to autodiff's."""
