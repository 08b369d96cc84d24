"""Helpers shared by the study tests."""

from __future__ import annotations

import contextlib


class Interrupt:
    """A progress factory whose tasks raise KeyboardInterrupt after ``after`` advances in all.

    Passed as ``run_study(..., progress=Interrupt(after=n))`` it stops a run the way Ctrl-C
    does, at a known point, to test that an interrupted run resumes to the same numbers.
    """

    def __init__(self, after: int) -> None:
        self.after, self.done = after, 0

    def __call__(self, description: str, total: int) -> contextlib.AbstractContextManager:
        outer = self

        class Task:
            def advance(self, n: int = 1) -> None:
                outer.done += n
                if outer.done >= outer.after:
                    raise KeyboardInterrupt

            def update(self, **kw: object) -> None:
                pass

        return contextlib.nullcontext(Task())
