"""Progress for long lens calls: ``progress=True`` (a bar on stderr) or a task factory.

A task factory is what studies and :func:`deepscope.train.fit` take:
``factory(description, total)`` is a context manager yielding a task with ``advance(n)``
and ``update(**fields)`` (:meth:`deepscope.studies.StudyContext.task` is one).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

from deepscope.errors import param_error

__all__ = ["as_factory"]


class _NullTask:
    def advance(self, n: int = 1) -> None:  # noqa: D102
        return None

    def update(self, **kwargs: Any) -> None:  # noqa: D102
        return None


@contextlib.contextmanager
def _null(description: str, total: int) -> Iterator[_NullTask]:
    yield _NullTask()


@contextlib.contextmanager
def _bar(description: str, total: int) -> Iterator[Any]:
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(),
                        console=Console(stderr=True), transient=False)

    class _Task:
        def __init__(self, task_id: Any) -> None:
            self._id = task_id

        def advance(self, n: int = 1) -> None:
            progress.advance(self._id, n)

        def update(self, **kwargs: Any) -> None:
            progress.update(self._id, **kwargs)

    with progress:
        yield _Task(progress.add_task(description, total=total))


def as_factory(progress: Any, func: str) -> Callable[[str, int], Any]:
    """The task factory for a ``progress`` argument: ``False``/``None`` (silent), ``True``
    (a Rich bar on stderr) or a factory ``(description, total) -> context manager``."""
    if progress is None or progress is False:
        return _null
    if progress is True:
        return _bar
    if callable(progress):
        return progress
    raise param_error("progress", func, "a bool or a factory (description, total) -> context "
                      "manager yielding a task with advance(n)", type(progress).__name__,
                      type_error=True)
