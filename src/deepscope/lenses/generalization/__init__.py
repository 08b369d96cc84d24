"""Generalization measures: norms, margins, flatness and noise that try to predict the gap.

Every measure takes ``(model, ...)`` on any :class:`torch.nn.Module` classifier and returns a
frozen result with ``to_frame()`` and ``tidy()``. ``sharpness`` is the landscape lens's
epsilon-sharpness (:func:`deepscope.lenses.landscape.sharpness`), re-exported here.

Papers: Jiang, Neyshabur, Mobahi, Krishnan & Bengio (2020), "Fantastic generalization
measures and where to find them", arXiv 1912.02178; Neyshabur, Tomioka & Srebro (2015),
arXiv 1503.00036; Bartlett, Foster & Telgarsky (2017), arXiv 1706.08498; Sedghi, Gupta &
Long (2019), arXiv 1805.10408; Dziugaite & Roy (2017), arXiv 1703.11008.
"""

from deepscope.lenses.generalization.flatness import gradient_noise, pac_bayes_flatness
from deepscope.lenses.generalization.margin import margin, norm_measures
from deepscope.lenses.generalization.norms import (
    conv_operator_norm, distance_from_init, frobenius, parameter_count, path_norm, spectral,
)
from deepscope.lenses.generalization.results import (
    DistanceFromInit, Frobenius, GradientNoise, Margin, NormMeasures, PacBayesFlatness,
    ParameterCount, PathNorm, Spectral,
)
from deepscope.lenses.landscape import Sharpness, sharpness

__all__ = [
    "DistanceFromInit", "Frobenius", "GradientNoise", "Margin", "NormMeasures",
    "PacBayesFlatness", "ParameterCount", "PathNorm", "Sharpness", "Spectral",
    "conv_operator_norm", "distance_from_init", "frobenius", "gradient_noise", "margin",
    "norm_measures", "pac_bayes_flatness", "parameter_count", "path_norm", "sharpness",
    "spectral",
]


# ----------------------------------------------------------------------------- registry

def _tiny_net(seed: int = 0, conv: bool = False):
    """A small ReLU classifier with weights drawn from its own generator (no global RNG)."""
    import torch
    from torch import nn

    if conv:
        net = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.Flatten(),
                            nn.Linear(3 * 5 * 5, 3))
    else:
        net = nn.Sequential(nn.Linear(4, 6), nn.ReLU(), nn.Linear(6, 3))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return net


def _tiny_data(conv: bool = False):
    import torch

    g = torch.Generator().manual_seed(1)
    x = torch.randn((24, 1, 5, 5) if conv else (24, 4), generator=g)
    return x, torch.arange(24) % 3


def _register() -> None:
    import torch.nn.functional as F

    from deepscope.lenses.registry import LensCase, register_lens

    def case(func_kwargs=None, *, data=False, loss=False, conv=False, init=False):
        def make():
            net = _tiny_net(conv=conv)
            args: tuple = (net,)
            if init:
                args += (_tiny_net(seed=7, conv=conv),)
            if loss:
                args += (F.cross_entropy,)
            if data:
                args += (_tiny_data(conv),)
            return LensCase(args=args, kwargs=dict(func_kwargs or {}), model=net)
        return make

    register_lens("generalization.parameter_count", parameter_count, needs=("model",),
                  case=case())
    register_lens("generalization.frobenius", frobenius, needs=("model", "weights"),
                  case=case())
    register_lens("generalization.spectral", spectral, needs=("model", "weights"),
                  case=case({"input_shape": (1, 5, 5)}, conv=True),
                  bad=[({"input_shape": (0,)}, "input_shape")])
    register_lens("generalization.path_norm", path_norm,
                  needs=("model", "weights", "piecewise_linear"),
                  case=case({"input_shape": (4,)}), bad=[({"p": -1.0}, "p")])
    register_lens("generalization.distance_from_init", distance_from_init,
                  needs=("model", "weights"), case=case(init=True))
    register_lens("generalization.margin", margin, needs=("model", "data"),
                  case=case(data=True), bad=[({"quantile": 1.5}, "quantile")])
    register_lens("generalization.norm_measures", norm_measures,
                  needs=("model", "data", "weights"), case=case(data=True),
                  bad=[({"quantile": -0.1}, "quantile")])
    register_lens("generalization.pac_bayes_flatness", pac_bayes_flatness,
                  needs=("model", "data", "loss"),
                  case=case({"n_draws": 2, "repeats": 2, "steps": 4}, data=True, loss=True),
                  bad=[({"target_increase": 0.0}, "target_increase"),
                       ({"scale": "log"}, "scale"), ({"n_draws": 0}, "n_draws")],
                  seeded=True)
    register_lens("generalization.gradient_noise", gradient_noise,
                  needs=("model", "data", "loss"),
                  case=case({"batch_size": 6}, data=True, loss=True),
                  bad=[({"batch_size": 0}, "batch_size"), ({"max_batches": 1}, "max_batches")],
                  seeded=True)


_register()
