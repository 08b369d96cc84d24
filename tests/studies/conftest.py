"""Every ``run_study`` in the study tests also checks reproducibility as a property: a study
never reads or writes the global RNGs of torch, numpy or Python (so running one from a
notebook leaves the notebook's random state as it was)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import rich.style  # noqa: F401  rich draws random.getrandbits once when first imported (not a study)
import torch

from deepscope import studies


def _states():
    return torch.random.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()


@pytest.fixture(autouse=True)
def run_study_keeps_the_global_rng(monkeypatch):
    real = studies.run_study

    def checked(*args, **kwargs):
        torch_before, np_before, py_before = _states()
        try:
            return real(*args, **kwargs)
        finally:
            torch_after, np_after, py_after = _states()
            name = args[0] if args else kwargs.get("name")
            assert torch.equal(torch_before, torch_after), f"{name} changed torch's global RNG"
            assert np.array_equal(np_before, np_after), f"{name} changed numpy's global RNG"
            assert py_before == py_after, f"{name} changed Python's global RNG"

    monkeypatch.setattr(studies, "run_study", checked)
