"""``ds.inspect``: every lens that applies to one's own model, each isolated, stored as a run.

The checkups of the core families (spectra, curvature, landscape, gradients, information,
regions; :mod:`deepscope.inspection.checkups`) call their lenses with budgets sized to the
model (:func:`budgets`); any other lens registered in
:mod:`deepscope.lenses.registry` joins by name (``lenses=["family.function", ...]``) when
its ``needs`` can be served (``model``/``weights`` alone: ``func(model)``; with ``loss``
and ``data``: ``func(model, loss_fn, data)``). A lens that fails or cannot run records why;
the others still run.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from deepscope.errors import check_float, param_error
from deepscope.inspection.checkups import (CHECKUPS, DEFAULT_LENSES, Checkup,  # noqa: F401
                                           NotApplicable, Outcome, _Context, budgets,
                                           choose)

__all__ = ["CHECKUPS", "DEFAULT_LENSES", "Checkup", "budgets", "inspect"]

# ------------------------------------------------------------------ the run


def _missing(check: Checkup, has_data: bool, has_loss: bool) -> str | None:
    if "data" in check.needs and not has_data:
        return "needs data (--data)"
    if "loss" in check.needs and not has_loss:
        return "needs a loss (--loss)"
    return None


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _run_all(model, data, loss_fn, checks, seed, deadline, progress, tag) -> list[dict]:
    n_params = sum(p.numel() for p in model.parameters())
    ctx = _Context(model, data, loss_fn, seed, budgets(n_params))
    records = []
    for check in checks:
        rec = {"lens": check.name, "model": tag, "status": "done", "seconds": 0.0,
               "detail": "", "outcome": Outcome()}
        why = _missing(check, data is not None, loss_fn is not None)
        if why is None and deadline is not None and time.monotonic() > deadline:
            why = "time limit reached before it started"
        if why is not None:
            rec.update(status="skipped", detail=why)
            records.append(rec)
            continue
        if progress is not None:
            progress(f"{tag}: {check.name}")
        start = time.perf_counter()
        try:
            rec["outcome"] = check.run(ctx)
        except NotApplicable as why_not:
            rec.update(status="skipped", detail=str(why_not))
        except Exception as err:  # noqa: BLE001 - each lens isolated; the reason is kept
            rec.update(status="failed", detail=f"{type(err).__name__}: {err}"[:600])
        rec["seconds"] = time.perf_counter() - start
        rec["peak_rss_mib"] = _peak_rss_mib()
        records.append(rec)
    return records


def inspect(model: nn.Module, data: Any = None, loss_fn: Callable | None = None, *,
            lenses: Sequence[str] | None = None, time_limit: float | None = None,
            against: nn.Module | None = None, root: str | Path = "runs", seed: int = 0,
            sources: dict | None = None, progress: Callable[[str], None] | None = None):
    """A checkup of one's own model: every lens that applies, each isolated, stored as a run.

    Args:
        model: The network (left untouched: lenses are pure).
        data: ``(inputs, targets)`` (inputs a tensor, tuple or dict) or an iterable of
            such; ``None`` runs only the data-free lenses.
        loss_fn: ``loss_fn(outputs, targets) -> mean loss`` (see :mod:`deepscope.losses`).
        lenses: Names: ``"spectra"``, ``"curvature"``, ``"landscape"``, ``"gradients"``,
            any registered lens (``"family.function"``) or ``"all"``; default
            :data:`DEFAULT_LENSES`.
        time_limit: Seconds for the whole checkup; a lens not started by then is skipped
            (with that reason); a running lens is not interrupted.
        against: A second model of the same architecture (e.g. after fine-tuning): the same
            lenses run on it and the report shows both with their differences.
        root: The runs folder.
        seed: Seed of every randomised lens.
        sources: Paths to record in the manifest (``weights``, ``data``, ...).
        progress: Called with a line before each lens.

    Returns:
        The :class:`deepscope.store.Run` (study ``"inspect"``) with ``report.html``; its
        manifest lists each lens's status, time, peak RSS and, if it could not run, why.

    Example:
        >>> import torch, deepscope as ds
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
        >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
        >>> run = ds.inspect(net, data=(x, y), loss_fn=ds.losses.cross_entropy, root="runs")
    """
    from deepscope.inspection.loading import sha256_of_state
    from deepscope.lenses._model import check_model
    from deepscope.store import RunStore

    func = "inspect"
    check_model(model, func)
    if against is not None:
        check_model(against, func, "against")
    if loss_fn is not None and not callable(loss_fn):
        raise param_error("loss_fn", func, "a callable loss_fn(outputs, targets)",
                          type(loss_fn).__name__, type_error=True)
    if time_limit is not None:
        time_limit = check_float(time_limit, "time_limit", func, low=0.0, closed="neither")
    checks = choose(lenses)
    deadline = None if time_limit is None else time.monotonic() + time_limit
    n_params = sum(p.numel() for p in model.parameters())
    config = {"model_class": type(model).__name__, "n_params": int(n_params),
              "lenses": [c.name for c in checks], "time_limit": time_limit,
              "loss": getattr(loss_fn, "__name__", type(loss_fn).__name__) if loss_fn else None,
              "against": against is not None, "sources": sources or {}}
    run = RunStore(root=root).create(study="inspect", config=config, seeds=[seed])
    run.update_manifest(weights_sha256=sha256_of_state(model),
                        data_sha256=_data_hash(data), budgets=budgets(n_params))
    records = _run_all(model, data, loss_fn, checks, seed, deadline, progress, "model")
    if against is not None:
        records += _run_all(against, data, loss_fn, checks, seed, deadline, progress,
                            "against")
        run.update_manifest(against_sha256=sha256_of_state(against))
    _store(run, records)
    return run


def _data_hash(data: Any) -> str | None:
    import hashlib

    if data is None:
        return None
    h = hashlib.sha256()

    def feed(v):
        if isinstance(v, torch.Tensor):
            h.update(f"{v.dtype}{tuple(v.shape)}".encode())
            h.update(v.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
                     .tobytes())
        elif isinstance(v, dict):
            for k in sorted(v):
                h.update(str(k).encode())
                feed(v[k])
        elif isinstance(v, (tuple, list)):
            for t in v:
                feed(t)

    feed(data)
    return h.hexdigest()


def _store(run, records: list[dict]) -> None:
    from deepscope.report import build_report

    for step, tag in enumerate(("model", "against")):
        for rec in (r for r in records if r["model"] == tag):
            rows = rec["outcome"].rows
            if rows:
                layer, metric, value = zip(*rows)
                run.record(step=step, lens=rec["lens"], layer=list(layer), metric=list(metric),
                           value=list(value))
    run.flush()
    lens_table = [{k: r.get(k) for k in ("lens", "model", "status", "seconds", "peak_rss_mib",
                                         "detail")} for r in records]
    findings = [f for r in records for f in r["outcome"].findings if r["model"] == "model"]
    findings += [f"{r['lens']} ({r['model']}): {r['status']} - {r['detail']}" for r in records
                 if r["status"] != "done"]
    summary = pd.DataFrame(lens_table)
    compare = _comparison(records)
    if compare is not None:
        findings.append("against: " + "; ".join(
            f"{r.lens}.{r.metric} {r.model:.4g} -> {r.against:.4g}"
            for r in compare.itertuples(index=False)))
    run.update_manifest(lenses=lens_table, findings=findings,
                        comparison=None if compare is None else compare.to_dict("records"))
    failed = any(r["status"] == "failed" for r in records)
    run.set_status("done")
    build_report(run, [], summary=summary if compare is None else
                 pd.concat([summary, compare], axis=0, ignore_index=True),
                 notes=findings + ([] if not failed else
                                   ["Some lenses failed; the reason is in the table."]))


def _comparison(records: list[dict]) -> pd.DataFrame | None:
    rows = []
    for rec in records:
        if rec["model"] != "model":
            continue
        other = next((r for r in records if r["model"] == "against"
                      and r["lens"] == rec["lens"]), None)
        if other is None:
            continue
        for key, value in rec["outcome"].metrics.items():
            b = other["outcome"].metrics.get(key)
            if b is not None:
                rows.append({"lens": rec["lens"], "metric": key, "model": value,
                             "against": b, "difference": b - value})
    return pd.DataFrame(rows) if rows else None
