"""Gradient lens: where gradient-based learning fails (Shalev-Shwartz, Shamir & Shammah 2017): gradient variance across targets and the gradient signal-to-noise ratio.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.gradients.variance import (
    GradientSNR,
    GradientVariance,
    gradient_snr,
    gradient_variance_across_targets,
    parity_gradient_variance,
)
from deepscope.lenses.gradients.snr import GradientSNRAccumulator
from deepscope.lenses.registry import LensCase, register_lens, tiny_net

__all__ = [
    "GradientSNR",
    "GradientSNRAccumulator",
    "GradientVariance",
    "gradient_snr",
    "gradient_variance_across_targets",
    "parity_gradient_variance",
]


def _net(norm=True):
    return tiny_net(4, 5, 1, activation="tanh", norm=norm)


def _hinge(out, target):
    return (1 - out.reshape(-1) * target.reshape(-1)).clamp(min=0).mean()


def _snr_case():
    import torch

    net = _net()
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(6, 4, generator=g), torch.randn(6, 1, generator=g))
               for _ in range(3)]
    return LensCase((net, torch.nn.functional.mse_loss, batches), {}, model=net)


def _targets_case():
    import torch

    net = _net()
    g = torch.Generator().manual_seed(2)
    x = torch.randn(8, 4, generator=g)
    targets = torch.randint(0, 2, (3, 8, 1), generator=g).float() * 2 - 1
    return LensCase((net, _hinge, x, targets), {}, model=net)


def _parity_case():
    net = _net(norm=False)   # per-example gradients: no batch statistics
    return LensCase((net, _hinge, 4), {"n_inputs": 8, "seed": 1}, model=net)


_NEEDS = ("model", "data", "loss")
register_lens("gradients.gradient_snr", gradient_snr, needs=_NEEDS, case=_snr_case,
              bad=[({"parameters": ["nope"]}, "parameters")])
register_lens("gradients.gradient_variance_across_targets", gradient_variance_across_targets,
              needs=("model", "loss"), case=_targets_case,
              bad=[({"chunk_size": 0}, "chunk_size")])
register_lens("gradients.parity_gradient_variance", parity_gradient_variance,
              needs=("model", "loss"), case=_parity_case, seeded=True,
              bad=[({"seed": -1}, "seed"), ({"batch_size": 0}, "batch_size")])
