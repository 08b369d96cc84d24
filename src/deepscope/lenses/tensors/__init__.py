"""Expressiveness through tensor decompositions: grid tensors and separation ranks.

A convolutional arithmetic circuit computes a score whose coefficient tensor is a
hierarchical Tucker (deep) or CP (shallow) decomposition; the separation rank of that
tensor under a partition ``(I, J)`` of the input positions measures how much correlation
the network can model between the two sides (Cohen, Sharir & Shashua 2016, arXiv
1509.05009; Cohen & Shashua, ICLR 2017, arXiv 1605.06743; overview arXiv 1705.02302).

* :func:`grid_tensor` evaluates any model on all ``M^N`` assignments of templates.
* :func:`separation_rank` gives the rank (exact for integer grids), the singular values and
  effective ranks of a matricization.
* :func:`rank_bound` bounds the rank of a ConvAC from its structure, without a grid.
"""

from __future__ import annotations

from deepscope.lenses.tensors.grid import GridTensor, grid_tensor
from deepscope.lenses.tensors.partitions import NAMED_PARTITIONS, partition_indices
from deepscope.lenses.tensors.rank import (
    RankBound,
    SeparationRank,
    exact_rank,
    rank_bound,
    separation_rank,
)

__all__ = [
    "NAMED_PARTITIONS",
    "GridTensor",
    "RankBound",
    "SeparationRank",
    "exact_rank",
    "grid_tensor",
    "partition_indices",
    "rank_bound",
    "separation_rank",
]


def _tiny_net():
    from deepscope.nets.convac import convac

    return convac(4, 2, 2, seed=0)


def _grid_case():
    import torch

    from deepscope.lenses.registry import LensCase

    net = _tiny_net()
    return LensCase(args=(net, torch.eye(2)), kwargs={"chunk_size": 5}, model=net)


def _rank_case():
    import torch

    from deepscope.lenses.registry import LensCase

    net = _tiny_net()
    return LensCase(args=(net, "odd-even"), kwargs={"templates": torch.eye(2)}, model=net)


def _bound_case():
    from deepscope.lenses.registry import LensCase

    net = _tiny_net()
    return LensCase(args=(net, "left-right"), kwargs={}, model=net)


def _register() -> None:
    from deepscope.lenses.registry import register_lens

    register_lens("tensors.grid_tensor", grid_tensor, needs=("model",), case=_grid_case,
                  bad=[({"chunk_size": 0}, "chunk_size"), ({"output": 3}, "output"),
                       ({"max_entries": 4}, "max_entries")])
    register_lens("tensors.separation_rank", separation_rank, needs=("model",),
                  case=_rank_case, bad=[({"rtol": -1.0}, "rtol"),
                                        ({"exact": "yes"}, "exact")])
    register_lens("tensors.rank_bound", rank_bound, needs=("convac",), case=_bound_case,
                  bad=[({"output": 2}, "output")])


_register()
