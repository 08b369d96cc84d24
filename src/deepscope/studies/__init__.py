"""Studies: papers' experiments as declarative, reproducible runs.

A study is a frozen, validated config dataclass, ``run(config, ctx)`` that records tidy
measurements into a run, and ``figures(run)`` / ``summary(run)`` for the report. Studies
register themselves by name; ``deepscope studies`` prints the catalog.
"""

from __future__ import annotations

from deepscope.studies._registry import Study, StudyContext, catalog, get, register
from deepscope.studies import info_plane  # noqa: F401  (registers the study)
from deepscope.studies import parity  # noqa: F401
from deepscope.studies import conditioning  # noqa: F401
from deepscope.studies import flat_activations  # noqa: F401
from deepscope.studies import end_to_end  # noqa: F401
from deepscope.studies import landscape  # noqa: F401
from deepscope.studies import boolean_machines  # noqa: F401
from deepscope.studies import depth_separation  # noqa: F401
from deepscope.studies import linear_regions  # noqa: F401
from deepscope.studies import weight_spectra  # noqa: F401

__all__ = ["Study", "StudyContext", "catalog", "get", "register", "run_study"]

from deepscope.studies._runner import run_study  # noqa: E402
