"""Small reference architectures used by the studies."""

from __future__ import annotations

from deepscope.nets.cnn import SmallCNN
from deepscope.nets.mlp import MLP

__all__ = [
    "MLP",
    "SmallCNN",
]
