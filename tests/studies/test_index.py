"""The static study catalog (`deepscope studies` without importing torch) matches the registry."""

from deepscope import studies
from deepscope._study_index import STUDIES


def test_static_catalog_matches_the_registry():
    live = tuple((s.name, s.summary, s.paper) for s in studies.catalog())
    table = "\n".join(f"    ({n!r},\n     {s!r},\n     {p!r})," for n, s, p in live)
    assert STUDIES == live, ("src/deepscope/_study_index.py is out of date; its STUDIES "
                             f"should read:\n(\n{table}\n)")
