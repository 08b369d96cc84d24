"""The study registry and the context a study runs in."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from deepscope.errors import DeepscopeTypeError, DeepscopeValueError

if TYPE_CHECKING:
    import torch

__all__ = ["CHECKPOINT", "Study", "StudyContext", "catalog", "get", "load_checkpoint",
           "register"]

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
        import torch

        where = _not_plain(state, "state")
        if where is not None:
            raise DeepscopeTypeError(
                f"The checkpoint of study {self.run.study!r} holds {where}; a checkpoint "
                "holds tensors, numbers, strings, None and lists/tuples/dicts of them only "
                "(it is read back with torch.load(weights_only=True))."
            )
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

    def pending(self, items: list, description: str, *, extra: dict | None = None
                ) -> Iterator[Any]:
        """The items a resumed run has not finished yet, with progress and checkpoints.

        Each item (a JSON-plain value: an int seed, a string, a list) is yielded once; when
        the loop body returns, the item is recorded as done in a checkpoint, so an
        interrupted run resumes at the first unfinished item. ``extra`` maps checkpoint keys
        to dicts the loop body fills (e.g. ``{"timings": timings}``): each is refilled from
        the resumed checkpoint first and saved with every later one.
        """
        done = list(self.resume.get("done", [])) if self.resume else []
        extra = extra or {}
        for key, value in extra.items():
            value.update(self.resume.get(key, {}) if self.resume else {})
        with self.task(description, len(items)) as task:
            task.update(completed=sum(1 for item in items if item in done))
            for item in items:
                if item in done:
                    continue
                yield item
                done.append(item)
                self.checkpoint({"done": done, **extra})
                task.advance(1)


_PLAIN = (str, int, float, bool, type(None))


def _not_plain(obj: Any, where: str) -> str | None:
    """Where ``obj`` holds something other than tensors and plain containers, else None."""
    import torch

    if type(obj) in _PLAIN or type(obj) is torch.Tensor or isinstance(obj, torch.nn.Parameter):
        return None
    if type(obj) in (list, tuple):
        for i, item in enumerate(obj):
            found = _not_plain(item, f"{where}[{i}]")
            if found:
                return found
        return None
    if type(obj) is dict:  # state_dict()'s OrderedDict is a dict subclass: allowed below
        items = obj.items()
    elif isinstance(obj, dict) and type(obj).__module__ == "collections":
        items = obj.items()
    else:
        return f"a {type(obj).__module__}.{type(obj).__qualname__} at {where}"
    for key, value in items:
        if type(key) not in _PLAIN:
            return f"a {type(key).__qualname__} key in {where}"
        found = _not_plain(value, f"{where}[{key!r}]")
        if found:
            return found
    return None


def load_checkpoint(path: Any) -> dict:
    """Read a run's checkpoint with ``torch.load(weights_only=True)``: never unpickles code.

    Returns:
        ``{"state": ..., "part": int}`` as written by :meth:`StudyContext.checkpoint`.

    Raises:
        DeepscopeValueError: the file holds anything but tensors and plain containers (a
            checkpoint of an older deepscope, or a planted file), or is damaged; one line.
    """
    import pickle

    import torch

    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError,
            AttributeError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeepscopeValueError(
            f"Refusing to load checkpoint {str(path)!r}: it is not a checkpoint of tensors "
            f"and plain values (torch.load(weights_only=True) said: {first[:160]}). Start a "
            "new run instead of resuming this one."
        ) from None
    if not (isinstance(saved, dict) and isinstance(saved.get("part"), int)
            and "state" in saved):
        raise DeepscopeValueError(f"Refusing to load checkpoint {str(path)!r}: it is not a "
                                  "deepscope checkpoint (no 'state' and 'part').")
    return saved


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
