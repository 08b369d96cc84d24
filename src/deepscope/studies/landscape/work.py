"""Training and measuring one network of the ``landscape`` study."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from deepscope.nets import MLP, SmallCNN
from deepscope.seeding import seeded_init
from deepscope.train import fit


def make_net(arch: str, seed: int, widths: tuple[int, ...]) -> nn.Module:
    if arch == "mlp":
        return seeded_init(lambda: MLP(widths, activation="relu"), seed)
    return seeded_init(SmallCNN, seed)


def train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int, epochs: int,
          lr: float, seed: int, target_loss: float = 0.0) -> tuple[int, int]:
    """Adam on shuffled minibatches (the last partial batch is dropped).

    Stops early once the full train loss (checked after the first epoch that ends at
    least 10 steps after the previous check) is below ``target_loss``, so that both batch
    regimes end at a comparable train loss, as Keskar et al. train both to convergence.
    Returns ``(epochs, steps)`` done.
    """
    n = x.shape[0]
    bs = min(batch_size, n)
    per_epoch = n // bs
    order: list[torch.Tensor] = []
    since = {"check": 0}

    def batches(step, generator):
        # a new order from fit's generator (seeded with ``seed``) at each epoch's start
        i = (step - 1) % per_epoch
        if i == 0:
            order[:] = [torch.randperm(n, generator=generator).to(x.device)]
        idx = order[0][i * bs:(i + 1) * bs]
        return x[idx], y[idx]

    def epoch_end(step, model, logs):
        since["check"] += per_epoch
        if target_loss > 0 and since["check"] >= 10:
            since["check"] = 0
            model.eval()
            stop = evaluate(model, x, y)[0] < target_loss
            model.train()
            return stop
        return False

    res = fit(net, F.cross_entropy, batches, optimizer="adam", lr=lr,
              steps=epochs * per_epoch, seed=seed, on_step=epoch_end,
              schedule=range(per_epoch, epochs * per_epoch + 1, per_epoch))
    for p in net.parameters():
        p.grad = None
    net.eval()
    return res.steps // per_epoch, res.steps


@torch.no_grad()
def evaluate(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    out = net(x)
    return float(F.cross_entropy(out, y)), float((out.argmax(1) == y).float().mean())


def measure(net: nn.Module, data: tuple, config, seed: int) -> dict:
    """Curvature, sharpness and the 1-D / 2-D landscape around the trained net."""
    from deepscope.lenses import curvature, landscape

    loss = F.cross_entropy
    out: dict = {}
    eig = curvature.hessian_eigs(net, loss, data, k=1, tol=1e-3, seed=seed)
    out["top_eigenvalue"] = float(eig.eigenvalues[0])
    tr = curvature.hessian_trace(net, loss, data, method="hutch++", rtol=config.trace_rtol,
                                 max_hvp=config.trace_max_hvp, sketch=10, seed=seed)
    out["trace"] = float(tr.estimate)
    out["trace_stderr"] = float(tr.stderr)
    out["trace_n_hvp"] = float(tr.n_hvp)
    out["trace_converged"] = float(tr.complete)
    dens = curvature.hessian_density(net, loss, data, n_runs=config.density_runs,
                                     n_iter=config.density_iter, seed=seed, n_grid=200)
    out["density_grid"] = dens.grid.cpu().numpy()
    out["density"] = dens.density.cpu().numpy()
    for box in ("relative", "absolute"):
        s = landscape.sharpness(net, loss, data, epsilon=config.epsilon, box=box,
                                steps=config.sharpness_steps, seed=seed)
        out[f"sharpness_{box}"] = s.value
    d1 = landscape.random_direction(net, 2 * seed + 1000)
    d2 = landscape.random_direction(net, 2 * seed + 1001)
    line = landscape.loss_line(net, loss, data, d1, steps=config.line_steps, span=config.span)
    out["line"] = line.loss
    out["line_coords"] = line.coords
    plane = landscape.loss_plane(net, loss, data, d1, d2, steps=config.plane_steps,
                                 span=config.span)
    out["plane"] = plane.loss
    return out
