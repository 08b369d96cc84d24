"""Executors: where a sweep's runs execute, behind one small protocol.

An executor takes tasks (:class:`deepscope.sweeps.plan.Task`) and yields ``(task, outcome)``
pairs as runs finish, in any order. An outcome is the dict :func:`worker.execute` returns, or
one with status ``lost`` when the process running the task died before answering (killed,
out of memory, a node gone). Executors never retry: the sweep driver does, a bounded number
of times, resuming each run from its last checkpoint.

- :class:`LocalExecutor`: a process pool on this machine, ``workers x threads <= cores``.
- :class:`RayExecutor`: one Ray task per run on a Ray cluster (``ray.init(address=...)``);
  the runs folder must be a path every node sees (a shared file system).
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Protocol, runtime_checkable

from deepscope.errors import DeepscopeError, check_choice, check_int, param_error
from deepscope.sweeps.plan import Task
from deepscope.sweeps.worker import execute, run_state, set_threads

__all__ = ["Executor", "LocalExecutor", "RayExecutor", "available_cores", "make_executor"]

#: Times a task whose worker died before it created its run is sent again in a fresh pool.
_MAX_REQUEUES = 2


@runtime_checkable
class Executor(Protocol):
    """What the sweep driver needs from an executor."""

    name: str

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, dict[str, Any]]]:
        """Execute every task; yield ``(task, outcome)`` as each finishes."""
        ...

    def describe(self) -> dict[str, Any]:
        """What the sweep manifest records about the executor (JSON-ready)."""
        ...


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


def _lost(task: Task, error: str) -> dict[str, Any]:
    return {"run_id": task.run_id, "status": "lost", "error": error, "elapsed_s": None,
            "pid": None}


def _die_with_parent() -> None:
    """Linux: this worker gets SIGKILL when its parent exits, so a killed driver leaves no
    worker writing into a run behind it."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, int(signal.SIGKILL))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover
        pass


def _init_worker(threads: int) -> None:
    _die_with_parent()
    set_threads(threads)


def _context(method: str | None) -> Any:
    """The start method: ``fork`` where there is one (cheap; a script needs no ``__main__``
    guard), else ``spawn``. Workers set their torch threads when they start."""
    if method is None:
        method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    ctx = mp.get_context(method)
    if method == "forkserver":
        ctx.set_forkserver_preload(["deepscope.sweeps.worker", "deepscope.studies"])
    return ctx


class LocalExecutor:
    """A process pool on this machine.

    Args:
        workers: Processes; default ``cores // threads``.
        threads: Torch CPU threads per worker; default ``max(1, cores // workers)``, so
            ``workers x threads <= cores``.
        start_method: ``fork`` (default where available), ``forkserver`` or ``spawn``; the
            last two re-import the calling script, which then needs a ``__main__`` guard.

    Raises:
        DeepscopeValueError: ``workers x threads`` above the cores.
    """

    name = "local"

    def __init__(self, workers: int | None = None, threads: int | None = None,
                 start_method: str | None = None) -> None:
        func = "LocalExecutor"
        if start_method is not None:
            check_choice(start_method, "start_method", func, tuple(mp.get_all_start_methods()))
        self.start_method = start_method
        cores = available_cores()
        if threads is not None:
            threads = check_int(threads, "threads", func, low=1, high=cores)
        if workers is not None:
            workers = check_int(workers, "workers", func, low=1, high=cores)
        if workers is None:
            workers = max(1, cores // (threads or 1))
        if threads is None:
            threads = max(1, cores // workers)
        if workers * threads > cores:
            raise param_error("threads", func, f"at most cores // workers = {cores // workers} "
                              f"({cores} cores, {workers} workers)", threads)
        self.workers, self.threads, self.cores = workers, threads, cores

    def __repr__(self) -> str:
        return f"LocalExecutor(workers={self.workers}, threads={self.threads})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "workers": self.workers, "threads": self.threads,
                "cores": self.cores}

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, dict[str, Any]]]:
        """Run the tasks on the pool; a dead worker breaks the pool, which is rebuilt."""
        pending = list(tasks)
        requeued: dict[str, int] = {}
        ctx = _context(self.start_method)
        while pending:
            pool = ProcessPoolExecutor(max_workers=min(self.workers, len(pending)),
                                       mp_context=ctx, initializer=_init_worker,
                                       initargs=(self.threads,))
            futures = {pool.submit(execute, task): task for task in pending}
            pending = []
            try:
                for future in as_completed(futures):
                    task = futures[future]
                    try:
                        outcome = future.result()
                    except BrokenProcessPool:
                        started = run_state(task.root, task.study, task.run_id) != "missing"
                        if started or requeued.get(task.run_id, 0) >= _MAX_REQUEUES:
                            yield task, _lost(task, "the worker process died (killed, or out "
                                              "of memory) before the run finished")
                        else:  # never started: its worker died of another task
                            requeued[task.run_id] = requeued.get(task.run_id, 0) + 1
                            pending.append(task)
                        continue
                    yield task, outcome
            finally:
                pool.shutdown(wait=True, cancel_futures=True)


def _ray_execute(task: Task, threads: int) -> dict[str, Any]:
    set_threads(threads)
    return execute(task)


class RayExecutor:
    """One Ray task per run, scheduled with ``num_cpus=threads``.

    Args:
        address: The cluster (``"auto"``, ``"ray://host:10001"``); ``None`` starts a local
            instance (``num_cpus`` of this machine's cores unless given).
        threads: Torch CPU threads per run (and CPUs each task asks Ray for).
        num_cpus: CPUs of the local instance (only when ``address`` is None).

    The runs folder must be on a path every node sees; a sweep passes it absolute.
    Needs the ``ray`` extra: ``pip install 'deepscope[ray]'``.
    """

    name = "ray"

    def __init__(self, address: str | None = None, threads: int = 1,
                 num_cpus: int | None = None) -> None:
        func = "RayExecutor"
        if address is not None and not isinstance(address, str):
            raise param_error("address", func, "a str or None", address, type_error=True)
        self.address = address
        self.threads = check_int(threads, "threads", func, low=1, high=1024)
        self.num_cpus = None if num_cpus is None else check_int(num_cpus, "num_cpus", func,
                                                                 low=1)
        _import_ray()

    def __repr__(self) -> str:
        return f"RayExecutor(address={self.address!r}, threads={self.threads})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "address": self.address, "threads": self.threads}

    def _init(self) -> Any:
        ray = _import_ray()
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"address": self.address, "include_dashboard": False,
                                      "log_to_driver": False}
            if self.address is None:
                kwargs["num_cpus"] = self.num_cpus or available_cores()
                # a local instance sees this interpreter's import path (tests, scripts)
                path = os.pathsep.join(p for p in sys.path if p)
                kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": path}}
            ray.init(**kwargs)
        return ray

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[Task, dict[str, Any]]]:
        """Submit tasks in a bounded window (4x the cluster's CPUs, at least 64) and yield
        outcomes as Ray returns them."""
        ray = self._init()
        remote = ray.remote(num_cpus=self.threads, max_retries=0)(_ray_execute)
        window = max(64, 4 * int(ray.cluster_resources().get("CPU", 1)))
        queue = iter(tasks)
        refs: dict[Any, Task] = {}
        try:
            while True:
                for task in queue:
                    refs[remote.remote(task, self.threads)] = task
                    if len(refs) >= window:
                        break
                if not refs:
                    return
                done, _ = ray.wait(list(refs), num_returns=1)
                for ref in done:
                    task = refs.pop(ref)
                    try:
                        outcome = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        outcome = _lost(task, f"{type(exc).__name__}: {str(exc)[:500]}")
                    yield task, outcome
        finally:
            for ref in refs:
                ray.cancel(ref, force=True)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise DeepscopeError("The 'ray' executor needs Ray: pip install 'deepscope[ray]'.") from None
    return ray


def make_executor(executor: Any, *, workers: int | None = None, threads: int | None = None,
                  address: str | None = None) -> Any:
    """An executor from its name (``local``, ``ray``) or an :class:`Executor` as it is."""
    if isinstance(executor, str):
        if executor == "local":
            return LocalExecutor(workers=workers, threads=threads)
        if executor == "ray":
            return RayExecutor(address=address, threads=threads or 1, num_cpus=workers)
    elif isinstance(executor, Executor):
        return executor
    raise param_error("executor", "sweep", "'local', 'ray' or an Executor", executor)
