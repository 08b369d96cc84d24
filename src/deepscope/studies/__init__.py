"""Studies: papers' experiments as declarative, reproducible runs.

A study is a frozen, validated config dataclass, ``run(config, ctx)`` that records tidy
measurements into a run, and ``figures(run)`` / ``summary(run)`` for the report. Studies
register themselves by name; ``deepscope studies`` prints the catalog.
"""

from __future__ import annotations

from deepscope.studies._registry import Study, StudyContext, catalog, get, register
# Importing a study module registers it.
from deepscope.studies import (  # noqa: F401
    boolean_machines,
    conditioning,
    depth_efficiency,
    depth_separation,
    end_to_end,
    flat_activations,
    generalization_measures,
    info_plane,
    landscape,
    layer_representations,
    linear_regions,
    matrix_factorization,
    max_margin,
    network_size,
    parity,
    pooling_geometry,
    rbm_flow,
    rbm_rg,
    weight_spectra,
)

__all__ = ["Study", "StudyContext", "catalog", "get", "register", "run_study"]

from deepscope.studies._runner import run_study  # noqa: E402
