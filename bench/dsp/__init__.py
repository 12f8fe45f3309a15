"""Effects: one parameter spec each, Numba reference kernels, exact differentiable versions, and
the facts other parts need (``Effect.neutral``, ``memory_seconds``, ``analytic_gain``, ``linear``,
``dynamics``, ``hammerstein``, ``matching_rule``, ``chain_selection_rank``), so adding an effect
is one file.

Import-light on purpose (no torch, no numba): effect discovery imports this package.
"""

from bench.dsp.chain import Chain, get_effect
from bench.dsp.spec import Effect, EffectUnavailable, NotDifferentiable, Param

__all__ = ["Chain", "Effect", "EffectUnavailable", "NotDifferentiable", "Param", "get_effect"]
