"""The study registry and the context a study runs in."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from deepscope.errors import DeepscopeValueError

__all__ = ["CHECKPOINT", "Study", "StudyContext", "catalog", "get", "register"]

#: Artifact name of a run's last checkpoint (see :meth:`StudyContext.checkpoint`).
CHECKPOINT = "checkpoint.pt"


@dataclass(frozen=True)
class Study:
    """A registered study.

    Attributes:
        name: The name used on the command line (``deepscope run NAME``).
        summary: One line for the catalog.
        paper: The papers the study re-runs (authors, year, arXiv id).
        config_cls: Frozen config dataclass; defaults are the paper's protocol.
        run: ``run(config, ctx)`` trains and records measurements into ``ctx.run``.
        figures: ``figures(run) -> list[deepscope.report.Figure]`` for the report.
        summary_table: ``summary_table(run) -> pandas.DataFrame`` for the report.
        stacks_seeds: The study trains all its seeds at once (one batched model); a sweep
            then runs each cell's seeds as one run instead of one run per seed.
    """

    name: str
    summary: str
    paper: str
    config_cls: type
    run: Callable[[Any, "StudyContext"], None]
    figures: Callable[[Any], list]
    summary_table: Callable[[Any], Any]
    stacks_seeds: bool = False


class _NullTask:
    def advance(self, n: int = 1) -> None:  # noqa: D102
        return None

    def update(self, **kwargs: Any) -> None:  # noqa: D102
        return None


@dataclass
class StudyContext:
    """What a running study may use besides its config.

    Attributes:
        run: The :class:`deepscope.store.Run` being written.
        device: Where to compute.
        resume: The ``state`` of the last :meth:`checkpoint` of the run being resumed, or
            ``None`` for a fresh run.
        progress: ``progress(description, total) -> context manager yielding a task`` with
            ``advance(n)``; the CLI passes Rich progress bars, the API a silent default.
    """

    run: Any
    device: torch.device
    resume: dict | None = None
    progress: Callable[[str, int], contextlib.AbstractContextManager] | None = None
    extra: dict = field(default_factory=dict)

    def checkpoint(self, state: dict) -> None:
        """Flush the measurements, then save ``state`` as the point to resume from.

        The checkpoint records the number of the last flushed part, so a resume drops any
        part written after it and continues with exactly the rows an uninterrupted run has.
        """
        self.run.flush()
        payload = {"state": state, "part": self.run.last_part}
        self.run.write_artifact(CHECKPOINT, lambda fh: torch.save(payload, fh))

    @contextlib.contextmanager
    def task(self, description: str, total: int) -> Iterator[Any]:
        """A progress task (silent when no progress reporter is attached)."""
        if self.progress is None:
            yield _NullTask()
        else:
            with self.progress(description, total) as task:
                yield task


_REGISTRY: dict[str, Study] = {}


def register(study: Study) -> Study:
    """Add a study to the catalog (by its name)."""
    _REGISTRY[study.name] = study
    return study


def get(name: str) -> Study:
    """The study called ``name``; an unknown name lists the known ones."""
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise DeepscopeValueError(f"Unknown study {name!r}. Known studies: {known}.")
    return _REGISTRY[name]


def catalog() -> list[Study]:
    """Every registered study, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
