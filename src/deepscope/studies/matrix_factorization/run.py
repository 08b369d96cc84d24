"""``run(config, ctx)`` of the ``matrix-factorization`` study."""

from __future__ import annotations

import time

import numpy as np
import torch

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
    done = list(ctx.resume.get("done", [])) if ctx.resume else []
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    with ctx.task(f"matrix-factorization: {len(config.alphas)} alphas",
                  len(config.alphas)) as task:
        task.update(completed=len(done))
        for alpha in config.alphas:
            layer = f"alpha={alpha:g}"
            if layer in done:
                continue
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
            fit(model, None, (torch.zeros(1), torch.zeros(1)), step_fn=engine,
                steps=-(-config.steps // config.record_every), on_step=on_step,
                schedule=None, optimizer="sgd", lr=lr)
            timings[layer] = round(time.perf_counter() - t1, 3)
            done.append(layer)
            ctx.checkpoint({"done": done, "timings": timings})
            task.advance(1)
    rec.update_manifest(timings_s=timings)
