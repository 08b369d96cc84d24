"""Representations: what each layer keeps and discards.

Similarity of two representations of the same inputs (:func:`cka` with a streaming
:class:`CKA` accumulator, :func:`cka_matrix` over every layer pair of two models,
:func:`shape_distance` / :func:`procrustes_distance`, :func:`mutual_knn`), linear probes with
a control task (:func:`linear_probe`), the intrinsic dimension of a layer
(:func:`intrinsic_dimension`), its invariance to a nuisance transformation
(:func:`invariance`) and 2-D maps (:func:`embed`).

Every similarity is exactly 1 (a distance exactly 0) for a representation and itself, is
symmetric, and has the invariances its docstring declares; the test suite checks each of
these identities on random data.
"""

from __future__ import annotations

import torch

from deepscope.lenses.registry import LensCase, register_lens
from deepscope.lenses.representations.cka import CKA, CKAResult, cka
from deepscope.lenses.representations.embed import Embedding, embed
from deepscope.lenses.representations.intrinsic import IntrinsicDimension, intrinsic_dimension
from deepscope.lenses.representations.invariance import (
    InvarianceResult,
    gaussian_noise,
    invariance,
    pixel_shift,
)
from deepscope.lenses.representations.matrix import CKAMatrix, cka_matrix
from deepscope.lenses.representations.probes import ProbeResult, linear_probe
from deepscope.lenses.representations.shape import (
    MutualKNN,
    ShapeDistance,
    mutual_knn,
    procrustes_distance,
    shape_distance,
)

__all__ = [
    "CKA",
    "CKAMatrix",
    "CKAResult",
    "Embedding",
    "IntrinsicDimension",
    "InvarianceResult",
    "MutualKNN",
    "ProbeResult",
    "ShapeDistance",
    "cka",
    "cka_matrix",
    "embed",
    "gaussian_noise",
    "intrinsic_dimension",
    "invariance",
    "linear_probe",
    "mutual_knn",
    "pixel_shift",
    "procrustes_distance",
    "shape_distance",
]


def _points(n: int = 40, p: int = 6, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, p, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _net() -> torch.nn.Module:
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(16, 8), torch.nn.ReLU(),
                              torch.nn.Linear(8, 3))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    return net


def _images() -> torch.Tensor:
    return torch.randn(32, 1, 4, 4, generator=torch.Generator().manual_seed(1))


def _pair_case(**kwargs) -> LensCase:
    x = _points()
    return LensCase(args=(x, x[:, :4] + 0.3 * _points(p=4, seed=1)), kwargs=kwargs)


register_lens("representations.cka", cka, needs=("activations",), case=_pair_case,
              bad=[({"kernel": "poly"}, "kernel"), ({"sigma": 0.0}, "sigma")])
register_lens("representations.cka_matrix", cka_matrix, needs=("model", "data"),
              case=lambda: (lambda m: LensCase(args=(m, None, _images()),
                                               kwargs={"layers_a": ["1", "2", "3"]},
                                               model=m))(_net()),
              bad=[({"layers_a": ["nope"]}, "layers_a"), ({"max_batches": 0}, "max_batches")])
register_lens("representations.shape_distance", shape_distance, needs=("activations",),
              case=_pair_case, bad=[({"alpha": 2.0}, "alpha"), ({"metric": "l1"}, "metric")])
register_lens("representations.mutual_knn", mutual_knn, needs=("activations",),
              case=lambda: _pair_case(k=5), bad=[({"k": 0}, "k")])
register_lens("representations.linear_probe", linear_probe, needs=("activations",),
              case=lambda: LensCase(args=({"a": _points(60), "b": _points(60, seed=2)},
                                          torch.arange(60) % 3)),
              bad=[({"method": "svm"}, "method"), ({"val_fraction": 1.5}, "val_fraction")],
              seeded=True)
register_lens("representations.intrinsic_dimension", intrinsic_dimension,
              needs=("activations",),
              case=lambda: LensCase(args=(_points(200, 3),), kwargs={"n_bootstrap": 20}),
              bad=[({"method": "pca"}, "method"), ({"n_bootstrap": -1}, "n_bootstrap"),
                   ({"discard_fraction": 0.95}, "discard_fraction")],
              seeded=True)
register_lens("representations.invariance", invariance, needs=("model", "data"),
              case=lambda: (lambda m: LensCase(args=(m, _images()),
                                               kwargs={"transform": pixel_shift(1),
                                                       "layers": ["1", "3"]}, model=m))(_net()),
              bad=[({"transform": 3}, "transform"), ({"layers": ["zz"]}, "layers")],
              seeded=True)
register_lens("representations.embed", embed, needs=("activations",),
              case=lambda: LensCase(args=(_points(30),)),
              bad=[({"method": "mds"}, "method")], seeded=True)
