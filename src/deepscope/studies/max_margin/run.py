"""``run(config, ctx)`` of the ``max-margin`` study."""

from __future__ import annotations

import math

import numpy as np

from deepscope.studies.max_margin.engine import loss
from deepscope.studies.max_margin.work import hard_margin_svm, separable_data, train_variant

__all__ = ["run"]


def gaps(w: np.ndarray, w_svm: np.ndarray, a: np.ndarray, gamma: float) -> tuple[float, float]:
    """Angle gap ``1 - cos(w, w_svm)`` and margin gap ``1 - min_n a_n.w / (||w|| gamma)``."""
    nw = float(np.linalg.norm(w))
    if nw == 0.0:
        return 1.0, 1.0
    cos = float(w @ w_svm) / (nw * float(np.linalg.norm(w_svm)))
    return 1.0 - cos, 1.0 - float((a @ w).min()) / (nw * gamma)


def run(config, ctx) -> None:
    """Train every variant to ``config.steps`` steps and record the Soudry et al. curves."""
    rec = ctx.run
    x, y = separable_data(config.n_random, config.offset, config.seed)
    a = y[:, None] * x
    w_svm, b_svm = hard_margin_svm(x, y)
    gamma = 1.0 / float(np.linalg.norm(w_svm))
    seed = config.seed
    if not ctx.resume:
        for metric, value in (("x0", x[:, 0]), ("x1", x[:, 1]), ("y", y)):
            rec.record(step=0, lens="data", layer="", metric=metric, value=value, seed=seed)
        for metric, value in (("w0", w_svm[0]), ("w1", w_svm[1]), ("intercept", b_svm),
                              ("margin", gamma), ("inverse_margin", 1.0 / gamma)):
            rec.record(step=0, lens="svm", layer="", metric=metric, value=value, seed=seed)
    timings: dict = {}
    variants = config.variant_list()
    for variant in ctx.pending(variants, f"max-margin: {len(variants)} variant(s) x "
                                         f"{config.steps:.0e} steps", extra={"timings": timings}):
        def on_point(t, w, variant=variant):
            lt = math.log(t) if t > 1 else float("nan")
            ang, mar = gaps(w, w_svm, a, gamma)
            nw = float(np.linalg.norm(w))
            lo = loss(a, w)
            for metric, value in (("loss", lo), ("t_loss", t * lo), ("norm", nw),
                                  ("norm_over_log_t", nw / lt), ("angle_gap", ang),
                                  ("margin_gap", mar), ("angle_gap_log_t", ang * lt),
                                  ("margin_gap_log_t", mar * lt), ("w0", w[0]),
                                  ("w1", w[1])):
                rec.record(step=t, lens="implicit_bias", layer=variant, metric=metric,
                           value=value, seed=seed)

        info = train_variant(variant, config, x, y, on_point)
        timings[variant] = round(info["seconds"], 3)
        rec.record(step=config.steps, lens="engine", layer=variant, metric="lr",
                   value=info["lr"], seed=seed)
        rec.record(step=config.steps, lens="engine", layer=variant, metric="seconds",
                   value=info["seconds"], seed=seed)
        rec.record(step=config.steps, lens="engine", layer=variant, metric="beta",
                   value=info["beta"], seed=seed)
    rec.update_manifest(timings_s=timings)
