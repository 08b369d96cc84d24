"""``run(config, ctx)`` of the ``generalization-measures`` study: train and measure the zoo."""

from __future__ import annotations

import copy
import time

__all__ = ["HPARAMS", "key", "run", "train_and_measure"]

HPARAMS = ("lr", "batch_size", "width", "depth")


def key(job: dict) -> str:
    """A net's name in the store: ``lr=0.02,batch_size=32,width=64,depth=1``."""
    return ",".join(f"{h}={job[h]:g}" for h in HPARAMS)


def train_and_measure(job: dict, target_loss: float, max_epochs: int, pac_bayes: bool,
                      split_seed: int, threads: int) -> dict:
    """Train one net of the zoo and measure it (runs in a worker process or inline)."""
    import torch

    from deepscope.data.digits import digits
    from deepscope.studies._generalization import accuracy, measure_all, mlp, train_until

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t0 = time.perf_counter()
        d = digits(seed=split_seed)
        net = mlp(64, job["width"], job["depth"], 10, job["seed"])
        init = copy.deepcopy(net)
        info = train_until(net, d.x_train, d.y_train, lr=job["lr"],
                           batch_size=job["batch_size"], max_epochs=max_epochs,
                           seed=job["seed"], target_loss=target_loss)
        train_acc, train_loss = accuracy(net, d.x_train, d.y_train)
        test_acc, test_loss = accuracy(net, d.x_test, d.y_test)
        out = {"training": {"train_acc": train_acc, "test_acc": test_acc,
                            "train_loss": train_loss, "test_loss": test_loss,
                            "gap": train_acc - test_acc, "epochs": info["epochs"],
                            "steps": info["steps"], "reached": float(info["reached"])},
               "measures": {}}
        if info["reached"]:
            out["measures"] = measure_all(net, init, d.x_train, d.y_train, pac_bayes=pac_bayes,
                                          seed=job["seed"])
        out["seconds"] = time.perf_counter() - t0
        return out
    finally:
        torch.set_num_threads(previous)


def _record(rec, job: dict, result: dict) -> None:
    layer = key(job)
    step = int(result["training"]["steps"])
    for metric, value in result["training"].items():
        rec.record(step=step, lens="training", layer=layer, metric=metric, value=value,
                   seed=job["seed"])
    for metric, value in result["measures"].items():
        rec.record(step=step, lens="measure", layer=layer, metric=metric, value=value,
                   seed=job["seed"])


def run(config, ctx) -> None:
    """Train every net not trained yet (in ``workers`` processes), recording as each ends."""
    rec = ctx.run
    done = set(ctx.resume.get("done", [])) if ctx.resume else set()
    seconds = float(ctx.resume.get("seconds", 0.0)) if ctx.resume else 0.0
    jobs = [j for j in config.grid() if f"{key(j)}/{j['seed']}" not in done]
    args = (config.target_loss, config.max_epochs, config.pac_bayes, config.split_seed,
            config.threads)
    total = len(config.grid())

    def finish(job, result):
        nonlocal seconds
        _record(rec, job, result)
        seconds += result["seconds"]
        done.add(f"{key(job)}/{job['seed']}")
        ctx.checkpoint({"done": sorted(done), "seconds": seconds})

    with ctx.task(f"generalization-measures: {total} nets", total) as task:
        task.update(completed=total - len(jobs))
        if config.workers == 1:
            for job in jobs:
                finish(job, train_and_measure(job, *args))
                task.advance(1)
        else:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor, as_completed

            with ProcessPoolExecutor(config.workers, mp_context=mp.get_context("spawn")) as ex:
                futures = {ex.submit(train_and_measure, job, *args): job for job in jobs}
                try:
                    for fut in as_completed(futures):
                        finish(futures[fut], fut.result())
                        task.advance(1)
                except BaseException:
                    for f in futures:
                        f.cancel()
                    raise
    rec.update_manifest(timings_s={"train_and_measure_cpu": round(seconds, 3)})
