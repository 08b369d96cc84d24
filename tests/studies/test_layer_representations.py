"""Tests of the layer-representations study (tiny configs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.studies._config import from_sets
from deepscope.studies.layer_representations import LayerRepresentationsConfig
from deepscope.studies.layer_representations.work import build, layer_names
from tests.studies._support import Interrupt

TINY = ["nets=mlp", "epochs=3", "random_epochs=3", "mlp_hidden=16-8", "n_bootstrap=5",
        "n_measure=300",
        "seeds=2"]


def test_build_is_seeded_and_leaves_the_global_rng_alone():
    cfg = LayerRepresentationsConfig()
    state = torch.get_rng_state()
    a, b = build("cnn", cfg, 3), build("cnn", cfg, 3)
    assert torch.equal(torch.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters()):
        assert torch.equal(p, q)
    assert layer_names("mlp", LayerRepresentationsConfig(mlp_hidden=(5, 6))) == (
        "input", "act1", "act2", "fc3")
    out = build("mlp", cfg, 0)(torch.zeros(2, 1, 8, 8))
    assert out.shape == (2, 10)


def test_config_validation():
    c = from_sets(LayerRepresentationsConfig, ["nets=cnn", "conditions=random"])
    assert c.net_list() == ["cnn"] and c.condition_list() == ["random"]
    with pytest.raises(DeepscopeError, match="'nets' parameter of LayerRepresentationsConfig"):
        from_sets(LayerRepresentationsConfig, ["nets=resnet"])
    with pytest.raises(DeepscopeError, match="'kde_noise'"):
        LayerRepresentationsConfig(kde_noise=0.0)
    assert LayerRepresentationsConfig().threads == 1


def test_tiny_run_records_everything_and_is_reproducible(tmp_path):
    run = studies.run_study("layer-representations", sets=TINY, root=tmp_path / "a")
    assert run.manifest["status"] == "done"
    assert (run.path / "report.html").exists()
    df = run.measurements()
    assert set(df.lens) == {"training", "cka", "cka_seeds", "probe", "intrinsic_dimension",
                            "invariance", "information"}
    cka = df[(df.lens == "cka") & (df.layer == "mlp|true|act1") & (df.metric == "cka@act1")]
    np.testing.assert_allclose(cka.value, 1.0, atol=1e-9)
    table = studies.get("layer-representations").summary_table(run)
    assert list(table.labels) == ["true", "random", "untrained"]
    again = studies.run_study("layer-representations", sets=TINY, root=tmp_path / "b",
                              report=False)
    pd.testing.assert_frame_equal(df, again.measurements())


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    keys = ["step", "lens", "layer", "metric", "seed"]
    sets = TINY + ["seeds=1"]
    full = studies.run_study("layer-representations", sets=sets, root=tmp_path / "full",
                             report=False).measurements()
    with pytest.raises(KeyboardInterrupt):
        studies.run_study("layer-representations", sets=sets, root=tmp_path / "cut",
                          report=False, progress=Interrupt(after=1))
    from deepscope.store import RunStore

    store = RunStore(root=tmp_path / "cut")
    run_id = store.list().id.iloc[0]
    resumed = studies.run_study("layer-representations", root=tmp_path / "cut",
                                resume=run_id, report=False)
    assert resumed.manifest["status"] == "done"
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(keys, kind="stable").reset_index(drop=True),
        full.sort_values(keys, kind="stable").reset_index(drop=True))
