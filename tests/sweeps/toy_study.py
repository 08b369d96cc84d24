"""A tiny study for sweep tests: one row per seed and step, with switches to fail or die."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register


@dataclass(frozen=True)
class ToyConfig:
    """Config of ``sweep-toy``."""

    scale: float = option(1.0, "slope of the recorded value")
    mode: str = option("a", "a label axis", choices=("a", "b"))
    steps: int = option(3, "steps (a checkpoint after each)")
    sleep: float = option(0.0, "seconds per step")
    fail_seed: int = option(-1, "raise in every run holding this seed")
    once: str = option("", "marker file: the first attempt fails (or dies) after step 0")
    kill: bool = option(False, "with 'once': SIGKILL the worker instead of raising")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "CPU threads")

    def __post_init__(self) -> None:
        validate_choices(self)

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def run(config: ToyConfig, ctx: StudyContext) -> None:
    start = ctx.resume["step"] if ctx.resume else 0
    seeds = config.seed_list()
    if config.fail_seed in seeds:
        raise RuntimeError(f"seed {config.fail_seed} fails")
    for step in range(start, config.steps):
        if step == 1 and config.once and not Path(config.once).exists():
            Path(config.once).write_text("tried")
            if config.kill:
                os.kill(os.getpid(), signal.SIGKILL)
            raise RuntimeError("first attempt fails")
        time.sleep(config.sleep)
        for s in seeds:
            bonus = 0.5 if config.mode == "b" else 0.0
            ctx.run.record(step=step, lens="toy", layer="", metric="value",
                           value=config.scale * step + bonus + 0.01 * s, seed=s)
        ctx.checkpoint({"step": step + 1})


def figures(run) -> list:
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = run.measurements()
    fig = MplFigure(figsize=(3, 2))
    ax = fig.add_subplot()
    for seed, g in df.groupby("seed"):
        ax.plot(g["step"], g["value"], label=str(seed))
    ax.set_xlabel("step")
    return [Figure("toy", "Toy value", image=fig)]


def summary_table(run) -> pd.DataFrame:
    return run.measurements().groupby("seed")["value"].mean().reset_index()


STUDIES = (
    Study(name="sweep-toy", summary="test study for sweeps", paper="none",
          config_cls=ToyConfig, run=run, figures=figures, summary_table=summary_table),
    Study(name="sweep-toy-stacked", summary="test study for sweeps, stacked seeds",
          paper="none", config_cls=ToyConfig, run=run, figures=figures,
          summary_table=summary_table, stacks_seeds=True),
)


def register_all() -> None:
    """Register the toy studies."""
    for study in STUDIES:
        register(study)


def unregister_all() -> None:
    """Take them out again, so the catalog the other tests see is the real one."""
    from deepscope.studies._registry import _REGISTRY

    for study in STUDIES:
        _REGISTRY.pop(study.name, None)


register_all()  # a fresh process (Ray worker, a driver script) gets them by importing this
