"""The effect-model grid as a strategy: architecture × conditioning, swept on the modeling tasks.

Each setting of ``arch`` × ``conditioning`` is one cell of :mod:`strategies._architectures`
(``tcn-film``, ``gru-hyper``: the HyperGRU …): a parameter-conditioned network pre-trained on
reference-DSP renders of the task's audio and frozen, exactly as ``neural_proxy --param
model=CELL`` would pre-train and use it. A study of this strategy on a modeling task runs every
cell that can model the task's effect (:meth:`settings`) before Optuna samples any, so one
``python -m bench run --strategy modeling --task modeling_<effect>`` measures the whole grid;
``--param arch=gru`` sweeps one row of it. It trains no learner, so it skips every other task.
"""

from __future__ import annotations

from typing import Any

from bench.base import RunContext, Task
from bench.data import TrainingAudio
from bench.dsp import Chain
from bench.gradient import EffectLayer, GradientStrategy


class EffectModel(GradientStrategy):
    """A cell of the effect-model grid (architecture × conditioning) for the modeling tasks."""

    name = "modeling"
    version = "2"  # 2: tuning trials report pre-training losses, so standard's pruner screens
    defaults = {"arch": "tcn", "conditioning": "film"}
    models_effect = True
    trains_learner = False

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """The grid's two axes (Optuna samples them only after :meth:`settings`)."""
        from strategies import _architectures, _conditioning

        return {"arch": trial.suggest_categorical("arch", list(_architectures.names())),
                "conditioning": trial.suggest_categorical("conditioning",
                                                          list(_conditioning.names()))}

    @classmethod
    def settings(cls, task: Task) -> list[dict[str, Any]]:
        """Every cell that can model each effect of the task's chain."""
        if not task.capabilities.chain:
            return []
        from strategies import _architectures

        common = set.intersection(*(set(_architectures.cells(e)) for e in task.chain.effects))
        return [{"arch": arch.name, "conditioning": cond}
                for arch, cond in map(_architectures.parse, sorted(common))]

    def cell(self) -> str:
        """The grid cell these hyperparameters name."""
        from strategies import _architectures

        return _architectures.cell(str(self.params["arch"]), str(self.params["conditioning"]))

    def effect_layer(self, chain: Chain, sample_rate: int, ctx: RunContext,
                     audio: TrainingAudio) -> EffectLayer:
        """The cell's model of every effect of ``chain``, pre-trained on ``audio`` and cached;
        a tuning trial reports its held-out loss as it trains, so the pruner screens the
        grid (a cell that trails the others at 100 or 300 steps stops there)."""
        from strategies._proxy_store import proxy_chain

        return proxy_chain(chain, sample_rate, ctx, audio, str(self.params["arch"]), self.cell(),
                           screened=True)
