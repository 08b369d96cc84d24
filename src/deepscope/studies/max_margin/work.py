"""Data, the independent SVM, and the training run of the ``max-margin`` study."""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from deepscope.studies.max_margin.engine import (
    Engine, LinearModel, TwoLayerLinear, compiled, loss,
)

__all__ = ["grid", "hard_margin_svm", "separable_data", "train_variant"]

SUPPORT = np.array([[0.5, 1.5], [1.5, 0.5]])


def separable_data(n_random: int, offset: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Soudry et al.'s Fig. 1 data: the support vectors, their negatives, random points.

    Positives are the two support vectors ``(0.5, 1.5)``, ``(1.5, 0.5)`` and ``n_random``
    uniform points of ``[0, 4]^2`` with ``(x_1 + x_2) / 2 >= 1 + offset`` (strictly off the
    margin of ``w = (1/2, 1/2)``); negatives are their mirror images, so the max-margin
    separator passes through the origin and is ``w_svm = (1/2, 1/2)`` (margin ``sqrt 2``).
    """
    rng = np.random.default_rng(seed)
    pts: list[np.ndarray] = []
    while len(pts) < n_random:
        x = rng.uniform(0.0, 4.0, 2)
        if 0.5 * x.sum() >= 1.0 + offset:
            pts.append(x)
    pos = np.vstack([SUPPORT, *pts]) if pts else SUPPORT.copy()
    x = np.vstack([pos, -pos])
    y = np.concatenate([np.ones(len(pos)), -np.ones(len(pos))])
    return x, y


def hard_margin_svm(x: np.ndarray, y: np.ndarray, c: float = 1e10) -> tuple[np.ndarray, float]:
    """``(w, b)`` of scikit-learn's linear SVC with a huge ``C`` (the hard-margin SVM)."""
    from sklearn.svm import SVC

    svc = SVC(kernel="linear", C=c, tol=1e-10, random_state=0).fit(x, y)  # no global RNG
    return svc.coef_[0].astype(np.float64), float(svc.intercept_[0])


def grid(steps: int, points: int) -> np.ndarray:
    """About ``points`` log-spaced step counts from 1 to ``steps`` (distinct ints)."""
    return np.unique(np.round(np.logspace(0, math.log10(steps), points)).astype(np.int64))


def train_variant(variant: str, cfg, x: np.ndarray, y: np.ndarray, on_point) -> dict:
    """Run one optimizer through :func:`deepscope.train.fit` with the closed-form engine.

    ``on_point(t, w)`` is called at every grid point with the step count and the linear
    predictor. Returns the step size used and the wall time.
    """
    from deepscope.train import fit

    a = y[:, None] * x
    beta = np.linalg.norm(x, 2) ** 2 / 4.0
    # heavy ball with step eta (1 - mu) has GD's effective step eta / (1 - mu) * (1 - mu)
    lr = {"gd": cfg.lr_over_beta / beta,
          "momentum": cfg.lr_over_beta * (1.0 - cfg.momentum) / beta,
          "two-layer": cfg.lr_over_beta / beta, "adam": cfg.adam_lr}[variant]
    if variant == "two-layer":
        model = TwoLayerLinear(x.shape[1], cfg.width, cfg.init_scale, cfg.seed)
    else:
        model = LinearModel(x.shape[1])
    g = grid(cfg.steps, cfg.points)
    engine = Engine(variant, a, g, lr, momentum=cfg.momentum)
    compiled()  # compile before the clock starts
    warm = Engine(variant, a, np.array([2]), lr, momentum=cfg.momentum)
    warm(LinearModel(x.shape[1]) if variant != "two-layer"
         else TwoLayerLinear(x.shape[1], cfg.width, cfg.init_scale, cfg.seed), None, None)

    def on_step(step, m, logs):
        if step > 0:
            on_point(int(logs["t"]), m.direction())

    t0 = time.perf_counter()
    data = (torch.from_numpy(x), torch.from_numpy(y))
    fit(model, None, data, step_fn=engine, steps=len(g), on_step=on_step, optimizer="sgd",
        lr=lr)
    return {"lr": lr, "beta": beta, "seconds": time.perf_counter() - t0,
            "final_loss": loss(a, model.direction())}
