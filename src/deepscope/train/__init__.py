"""Training: :func:`fit`, the one loop every study uses, and the stacked engines.

* :func:`fit` trains any ``nn.Module`` (custom update steps too: contrastive divergence,
  closed-form-gradient engines) with seeded batches that never touch the global RNG.
* :class:`StackedMLPTrainer` trains many seeds of one small MLP at once, bit-identical per
  seed on CPU, for the information-plane studies.
"""

from __future__ import annotations

from deepscope.train.loop import FitResult, fit
from deepscope.train.stacked_mlp import Snapshot, StackedMLPTrainer

__all__ = ["FitResult", "Snapshot", "StackedMLPTrainer", "fit"]
