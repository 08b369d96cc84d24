"""The toy studies are registered only while the sweep tests run, so every other test (the
study catalog's among them) sees the real catalog."""

from __future__ import annotations

import pytest

from tests.sweeps import toy_study

toy_study.unregister_all()  # importing it registered them; collection must not leak them


@pytest.fixture(autouse=True, scope="module")
def _toy_studies():
    toy_study.register_all()
    yield
    toy_study.unregister_all()
