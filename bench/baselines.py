"""What the runtime comparisons are measured against, declared once outside the report layer:
the strategy with exact gradients, the DeepAFx-ST chain and the step-time ratios DeepAFx-ST
published. Reports and profiles read these names here and never spell a plugin themselves."""

from __future__ import annotations

EXACT_STRATEGY = "autodiff"
"""The strategy whose exact gradients every other strategy's step time is divided by."""

DEEPAFX_ST_CHAIN = ("peq", "compressor")
"""The effect chain of DeepAFx-ST (Steinmetz, Bryan, Reiss, JAES 2022)."""

DEEPAFX_ST_GPU_STEP_RATIOS = {"spsa": 0.4132 / 0.3086, "neural_proxy": 0.4346 / 0.3086,
                              "proxy_hybrid": 0.4339 / 0.3086}
"""DeepAFx-ST's training-step times relative to autodiff's 0.3086 s (GTX 1080 Ti, batch 4, 5-s
clips at 24 kHz, 1000 iterations of its timing script): SPSA 0.4132 s, proxy 0.4346 s and the
"full hybrid" 0.4339 s, which that script timed on the proxy-only path."""
