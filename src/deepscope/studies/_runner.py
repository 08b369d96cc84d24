"""Run a registered study into the store: fresh, or resumed from its last checkpoint."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch

from deepscope.errors import DeepscopeValueError, check_int, param_error
from deepscope.studies._config import from_sets, to_dict
from deepscope.studies._registry import CHECKPOINT, StudyContext, get, load_checkpoint

__all__ = ["RunInterrupted", "build_study_report", "run_study"]


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a study; the run is marked interrupted and can be resumed.

    Attributes:
        run_id: The interrupted run's id.
        study: Its study.
        root: Its runs folder.
    """

    def __init__(self, run_id: str, study: str, root: Path) -> None:
        super().__init__(f"run {run_id} interrupted")
        self.run_id, self.study, self.root = run_id, study, Path(root)

    @property
    def resume_command(self) -> str:
        """The command line that continues the run."""
        import shlex

        return (f"deepscope run {shlex.quote(self.study)} --resume {shlex.quote(self.run_id)} "
                f"--out {shlex.quote(str(self.root))}")


def _device(device: str | torch.device | None) -> torch.device:
    if device is None:
        return torch.device("cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise DeepscopeValueError(
            f"The 'device' parameter of run_study must be a torch device such as 'cpu' or "
            f"'cuda:0'. Got {device!r}."
        ) from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise DeepscopeValueError(
            f"The 'device' parameter of run_study asks for {str(dev)!r}, but CUDA is not "
            "available on this machine."
        )
    return dev


def build_study_report(run: Any) -> Path:
    """(Re)build ``report.html`` of a run from its stored measurements."""
    from deepscope.report import build_report

    study = get(run.study)
    figures = study.figures(run)
    summary = study.summary_table(run)
    return build_report(run, figures, summary=summary)


@contextlib.contextmanager
def _cpu_threads(threads: int, device: torch.device) -> Iterator[None]:
    """Torch's intra-op CPU threads set to the run's ``threads`` while it runs on CPU.

    Small matmuls run fastest on one thread, and more threads oversubscribe a busy machine;
    the previous setting comes back afterwards.
    """
    if device.type != "cpu":
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def run_study(
    name: str,
    config: Any = None,
    *,
    sets: Iterable[str] = (),
    root: str | Path = "runs",
    device: str | torch.device | None = None,
    resume: str | None = None,
    progress: Callable | None = None,
    report: bool = True,
    threads: int | None = None,
    run_id: str | None = None,
) -> Any:
    """Run study ``name`` and return its :class:`deepscope.store.Run`.

    Args:
        name: A registered study (``deepscope studies`` lists them).
        config: A config instance; default: the study's defaults with ``sets`` applied.
        sets: ``key=value`` overrides, as on the command line.
        root: The runs folder.
        device: Where to compute (default CPU).
        resume: Id of an interrupted run of the same study to continue from its last
            checkpoint; its stored config is used.
        progress: Progress factory (see :class:`StudyContext`); ``None`` or ``False`` is silent.
        report: Build ``report.html`` when the run finishes.
        threads: Torch CPU threads while the study runs (recorded in the manifest as
            ``threads``). Default: the config's ``threads`` field where the study has one,
            the resumed run's setting, else 1 (fastest for the studies' small nets, and
            safe on a shared machine). Results may differ in the last digits between
            thread counts (summation order); runs are bit-identical at equal threads.
        run_id: Id of the new run (default a fresh time-based one); sweeps pass a content
            hash. Ignored with ``resume``.

    Raises:
        DeepscopeValueError: unknown study, bad config value, or a run that cannot be
            resumed: done, of another study, a checkpoint that is not plain tensors.
        RunLocked: the run to resume is being written by another live process.
        RunInterrupted: Ctrl-C (a KeyboardInterrupt naming the run and its resume command).
    """
    from deepscope.store import RunStore

    if progress is False:
        progress = None
    elif progress is not None and not callable(progress):
        raise param_error("progress", "run_study", "a callable, None or False", progress,
                          type_error=True)
    study = get(name)
    dev = _device(device)
    if threads is not None:
        threads = check_int(threads, "threads", "run_study", low=1, high=256)
    store = RunStore(root=root)
    if resume is not None:
        config = None
        run = store.open(resume)
        if run.study != name:
            raise DeepscopeValueError(
                f"Run {run.id} is a {run.study!r} run; it cannot be resumed as {name!r}."
            )
    else:
        has_field = "threads" in getattr(study.config_cls, "__dataclass_fields__", {})
        if has_field and threads is not None:
            sets = [*sets, f"threads={threads}"]
        if config is None:
            config = from_sets(study.config_cls, sets)
        elif sets:
            config = from_sets(study.config_cls, sets, base=to_dict(config))
        run = store.create(study=name, config=to_dict(config), seeds=list(config.seed_list()),
                           run_id=run_id)
    with run.lock():
        return _run_locked(study, run, store, dev, config, threads, progress, report)


def _run_locked(study: Any, run: Any, store: Any, dev: torch.device, config: Any,
                threads: int | None, progress: Callable | None, report: bool) -> Any:
    """The run itself, with its lock held; ``config`` is None when resuming."""
    checkpoint = None
    if config is None:  # checked under the lock: a live writer has been refused by now
        if run.manifest.get("status") == "done":
            raise DeepscopeValueError(f"Run {run.id} is already done; nothing to resume.")
        config = from_sets(study.config_cls, (), base=run.config)
        ckpt_path = run.artifact_path(CHECKPOINT)
        if ckpt_path.exists():
            saved = load_checkpoint(ckpt_path)
            run.truncate_parts(after=saved["part"])
            checkpoint = saved["state"]
        else:
            run.truncate_parts(after=-1)
        for tmp in [*run.path.glob(".*.tmp"), *run.parts_dir.glob(".*.tmp")]:
            tmp.unlink(missing_ok=True)  # left by a killed writer; we hold the lock
        run.mark_resumed()
        if threads is None:
            threads = run.manifest.get("threads")
    if threads is None:
        threads = getattr(config, "threads", None) or 1
    threads = int(threads)
    run.update_manifest(device=str(dev), threads=threads)
    ctx = StudyContext(run=run, device=dev, resume=checkpoint, progress=progress)
    t0 = time.perf_counter()
    try:
        with _cpu_threads(threads, dev):
            study.run(config, ctx)
    except KeyboardInterrupt:
        run.flush()
        run.set_status("interrupted")
        raise RunInterrupted(run.id, run.study, store.root) from None
    except BaseException as exc:
        run.flush()
        run.set_status("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    run.flush()
    run.update_manifest(train_and_measure_s=round(time.perf_counter() - t0, 3))
    run.set_status("done")  # measurements are complete; the report shows the final status
    if report:
        t1 = time.perf_counter()
        build_study_report(run)
        run.update_manifest(report_s=round(time.perf_counter() - t1, 3))
    return run
