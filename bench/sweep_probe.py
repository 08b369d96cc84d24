"""``sweep-probe``: the trivial study of ``bench/sweeps.py`` (one row, no report)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from deepscope.studies._config import option
from deepscope.studies._registry import Study, StudyContext, register


@dataclass(frozen=True)
class ProbeConfig:
    """Config of ``sweep-probe``."""

    value: float = option(1.0, "the value written")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "CPU threads")

    def seed_list(self) -> list[int]:
        return list(range(self.first_seed, self.first_seed + self.seeds))


def run(config: ProbeConfig, ctx: StudyContext) -> None:
    ctx.run.record(step=0, lens="probe", layer="", metric="value", value=config.value,
                   seed=config.first_seed)


register(Study(name="sweep-probe", summary="one row (sweep overhead benchmark)", paper="none",
               config_cls=ProbeConfig, run=run, figures=lambda run: [],
               summary_table=lambda run: pd.DataFrame()))
