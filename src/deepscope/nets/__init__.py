"""Small reference architectures used by the studies."""

from __future__ import annotations

from deepscope.nets.cnn import SmallCNN
from deepscope.nets.convac import ConvAC, PoolingConvNet, convac, pooling_tree, relu_convnet
from deepscope.nets.mlp import MLP
from deepscope.nets.rbm import RBM, ContrastiveDivergence
from deepscope.nets.sawtooth import sawtooth_net
from deepscope.nets.tuple_net import SegmentNet, TupleNet

__all__ = [
    "ConvAC",
    "PoolingConvNet",
    "convac",
    "pooling_tree",
    "relu_convnet",
    "MLP",
    "RBM",
    "ContrastiveDivergence",
    "SmallCNN",
    "sawtooth_net",
    "SegmentNet",
    "TupleNet",
]
