"""``run(config, ctx)`` of the ``matrix-factorization`` study."""

from __future__ import annotations

import time

import numpy as np

from deepscope.studies.matrix_factorization.work import (
    Factorised, GDEngine, min_frobenius, min_nuclear, nuclear, problem,
)

__all__ = ["run"]


def run(config, ctx) -> None:
    """Reference solutions, then factorised GD for every alpha, recording the path."""
    from deepscope.train import fit

    rec = ctx.run
    seed = config.seed
    p = problem(config.n, config.measurements, seed)
    x_f = min_frobenius(p)
    t0 = time.perf_counter()
    x_nuc, iters = min_nuclear(p)
    admm_s = time.perf_counter() - t0
    if not ctx.resume:
        for layer, x in (("x_star", p.x_star), ("min_frobenius", x_f), ("min_nuclear", x_nuc)):
            for metric, value in (("rel_error", p.rel_error(x)), ("nuclear_norm", nuclear(x)),
                                  ("residual", p.residual(x)),
                                  ("rel_to_min_nuclear", p.rel_error(x, x_nuc))):
                rec.record(step=0, lens="reference", layer=layer, metric=metric, value=value,
                           seed=seed)
        rec.record(step=iters, lens="reference", layer="min_nuclear", metric="admm_seconds",
                   value=admm_s, seed=seed)
    lr = config.lr / float(np.linalg.norm(p.x_star, 2))
    timings: dict = {}
    layers = [f"alpha={alpha:g}" for alpha in config.alphas]
    for layer in ctx.pending(layers, f"matrix-factorization: {len(layers)} alphas",
                             extra={"timings": timings}):
        alpha = config.alphas[layers.index(layer)]
        model = Factorised(config.n, alpha)
        engine = GDEngine(p, lr, config.record_every)

        def on_step(step, m, logs, layer=layer):
            x = m.matrix()
            res = p.residual(x)
            t = step * config.record_every
            for metric, value in (("rel_error", p.rel_error(x)),
                                  ("rel_to_min_nuclear", p.rel_error(x, x_nuc)),
                                  ("rel_to_min_frobenius", p.rel_error(x, x_f)),
                                  ("nuclear_norm", nuclear(x)), ("residual", res)):
                rec.record(step=t, lens="path", layer=layer, metric=metric, value=value,
                           seed=seed)
            return res < config.tol

        t1 = time.perf_counter()
        fit(model, None, lambda step, generator: None, step_fn=engine, optimizer=None,
            steps=-(-config.steps // config.record_every), on_step=on_step)
        timings[layer] = round(time.perf_counter() - t1, 3)
    rec.update_manifest(timings_s=timings)
