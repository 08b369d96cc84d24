"""Shared by the ``network-size`` and ``generalization-measures`` studies: seeded ReLU MLPs,
training to a stopping rule through :func:`deepscope.train.fit`, and every measure of
:mod:`deepscope.lenses.generalization` on a trained net."""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

__all__ = ["accuracy", "measure_all", "mlp", "train_until"]


def mlp(d_in: int, width: int, depth: int, d_out: int, seed: int) -> nn.Sequential:
    """A ReLU MLP with ``depth`` hidden layers of ``width``, PyTorch's default init drawn from
    its own generator (the global RNG is untouched)."""
    dims = [d_in] + [width] * depth + [d_out]
    layers: list[nn.Module] = []
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.utils.skip_init(nn.Linear, a, b), nn.ReLU()]
    net = nn.Sequential(*layers[:-1])
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.in_features)
                m.weight.copy_((torch.rand(m.weight.shape, generator=g) * 2 - 1) * bound)
                m.bias.copy_((torch.rand(m.bias.shape, generator=g) * 2 - 1) * bound)
    return net


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """``(accuracy, mean cross-entropy)`` of ``model`` on ``(x, y)``."""
    with torch.no_grad():
        out = model(x)
        return (float((out.argmax(1) == y).float().mean()),
                float(nn.functional.cross_entropy(out, y)))


def train_until(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, lr: float,
                batch_size: int, max_epochs: int, seed: int, target_loss: float | None = None,
                momentum: float = 0.9) -> dict:
    """SGD (with momentum) until the training set is fitted, checked after every epoch.

    Stops when the training cross-entropy is below ``target_loss`` (Jiang et al.'s rule) or,
    with ``target_loss=None``, when every training sample is classified correctly (zero
    training error). Returns the epochs, steps, whether the rule was met, and the final train
    accuracy and loss.
    """
    from deepscope.train import fit

    nb = -(-x.shape[0] // batch_size)
    state = {"reached": False, "epochs": 0}

    def on_step(step, m, logs):
        acc, loss = accuracy(m, x, y)
        state.update(acc=acc, loss=loss, epochs=step // nb)
        ok = loss < target_loss if target_loss is not None else acc == 1.0
        state["reached"] = bool(ok)
        return ok or not math.isfinite(loss)

    res = fit(model, nn.functional.cross_entropy, (x, y), optimizer="sgd", lr=lr,
              momentum=momentum, batch_size=batch_size, epochs=max_epochs, seed=seed,
              schedule=range(nb, max_epochs * nb + 1, nb), on_step=on_step)
    state["steps"] = res.steps
    return state


def measure_all(model: nn.Module, init_model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                pac_bayes: bool, seed: int, pac_samples: int = 512) -> dict[str, float]:
    """Every measure of the generalization lens on a trained net (train data ``(x, y)``).

    The norm and margin measures use all of ``(x, y)``; PAC-Bayes flatness (cross-entropy,
    target increase 0.1, 4 draws x 2 repeats, 12 bisection steps) uses its first
    ``pac_samples`` samples; gradient noise uses minibatches of 64.
    """
    from deepscope.lenses import generalization as gen

    model = copy.deepcopy(model).eval()
    out = dict(gen.norm_measures(model, (x, y), init_model=init_model).values)
    out["grad_noise"] = gen.gradient_noise(model, nn.functional.cross_entropy, (x, y),
                                           batch_size=64, seed=seed).variance
    if pac_bayes:
        sub = (x[:pac_samples], y[:pac_samples])
        kw = dict(target_increase=0.1, n_draws=4, repeats=2, steps=12, seed=seed)
        out["pacbayes_flatness"] = gen.pac_bayes_flatness(
            model, nn.functional.cross_entropy, sub, **kw).measure
        out["pacbayes_mag_flatness"] = gen.pac_bayes_flatness(
            model, nn.functional.cross_entropy, sub, scale="magnitude", **kw).measure
    return out
