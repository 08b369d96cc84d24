"""Tests of the rbm-rg study (Mehta & Schwab 2014) and its locality measures."""

import numpy as np
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies.rbm_rg import RbmRgConfig
from deepscope.studies.rbm_rg.locality import (block_mass, effective_block, gyration_radius,
                                               uniform_gyration_radius)


def test_locality_known_answers():
    f = np.zeros((3, 8, 8))
    f[0, 7, 7] = 1.0                      # one site
    f[1, 0:2, 7] = f[1, 0:2, 0] = 1.0     # a 2 x 2 block across the periodic edge
    f[2] = 1.0                            # the whole lattice
    assert block_mass(f, 2).tolist() == [1.0, 1.0, 4 / 64]
    assert effective_block(f).tolist() == [1, 2, 6]
    r = gyration_radius(f)
    assert r[0] == 0 and r[1] == pytest.approx(uniform_gyration_radius(8, 2))
    assert r[2] == pytest.approx(uniform_gyration_radius(8), rel=0.02)
    # translation on the torus changes nothing
    assert gyration_radius(np.roll(f, (3, 5), (1, 2))) == pytest.approx(r)


def test_config_validation():
    with pytest.raises(DeepscopeError, match="'hidden' parameter of RbmRgConfig"):
        RbmRgConfig(L=4, hidden=(64,))


def test_tiny_run(tmp_path):
    sets = ["L=8", "n=200", "hidden=16-4", "epochs=2", "n_fields=2"]
    run = studies.run_study("rbm-rg", sets=sets, root=tmp_path)
    assert run.manifest["status"] == "done" and (run.path / "report.html").exists()
    table = studies.get("rbm-rg").summary_table(run)
    assert table["block b"].tolist() == [2, 4]
    assert table["block_mass (block spin)"].tolist() == [1.0, 1.0]
    assert np.all(table["gyration_radius (RBM)"] > 0)
