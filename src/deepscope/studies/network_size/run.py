"""``run(config, ctx)`` of the ``network-size`` study."""

from __future__ import annotations

import copy
import time

from deepscope.studies._generalization import accuracy, measure_all, mlp, train_until

__all__ = ["run"]


def run(config, ctx) -> None:
    """Train and measure one net per (seed, width); resumable per net."""
    from deepscope.data.digits import digits

    d = digits(seed=config.split_seed, device=ctx.device)
    rec = ctx.run
    done = [tuple(k) for k in ctx.resume.get("done", [])] if ctx.resume else []
    jobs = [(s, w) for s in config.seed_list() for w in config.widths]
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    with ctx.task(f"network-size: {len(config.widths)} widths x {config.seeds} seeds",
                  len(jobs)) as task:
        task.update(completed=len(done))
        for seed, width in jobs:
            if (seed, width) in done:
                continue
            t0 = time.perf_counter()
            net = mlp(64, width, 1, 10, seed).to(ctx.device)
            init = copy.deepcopy(net)
            info = train_until(net, d.x_train, d.y_train, lr=config.lr,
                               batch_size=config.batch_size, max_epochs=config.max_epochs,
                               seed=seed)
            train_acc, train_loss = accuracy(net, d.x_train, d.y_train)
            test_acc, test_loss = accuracy(net, d.x_test, d.y_test)
            layer = str(width)
            for metric, value in (("train_error", 1 - train_acc), ("test_error", 1 - test_acc),
                                  ("train_loss", train_loss), ("test_loss", test_loss),
                                  ("gap", train_acc - test_acc), ("epochs", info["epochs"]),
                                  ("reached", float(info["reached"]))):
                rec.record(step=info["steps"], lens="training", layer=layer, metric=metric,
                           value=value, seed=seed)
            measures = measure_all(net, init, d.x_train, d.y_train,
                                   pac_bayes=config.pac_bayes, seed=seed)
            for metric, value in measures.items():
                rec.record(step=info["steps"], lens="measure", layer=layer, metric=metric,
                           value=value, seed=seed)
            timings[layer] = round(timings.get(layer, 0.0) + time.perf_counter() - t0, 3)
            done.append((seed, width))
            ctx.checkpoint({"done": [list(k) for k in done], "timings": timings})
            task.advance(1)
    rec.update_manifest(timings_s=timings)
