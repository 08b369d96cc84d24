import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.store import RunStore
from deepscope.studies._config import from_sets
from deepscope.studies.weight_spectra import WeightSpectraConfig, jobs, zoo_correlation
from tests.studies._support import Interrupt

TINY = ["width=32", "cnn_channels=4-8", "cnn_hidden=24", "epochs=2", "measure_every=1",
        "random_label_epochs=1", "batch_sizes=64", "lrs=0.1", "zoo_size=3",
        "zoo_widths=24", "zoo_epochs=1", "zoo_batches=64,128"]


def _run(tmp_path, extra=(), **kw):
    return studies.run_study("weight-spectra", sets=TINY + list(extra), root=tmp_path, **kw)


def test_config_parses_and_validates():
    c = from_sets(WeightSpectraConfig, ["batch_sizes=8,64", "lrs=0.01,0.1", "seeds=2"])
    assert c.batch_sizes == (8, 64) and c.lrs == (0.01, 0.1) and c.seed_list() == [0, 1]
    names = [j["name"] for j in jobs(c, 0)]
    assert names[:3] == ["mlp", "cnn", "random-labels"]
    assert "batch8-lr0.01" in names and "batch64-lr0.1" in names
    assert sum(n.startswith("zoo") for n in names) == c.zoo_size
    with pytest.raises(DeepscopeError, match="'width' parameter of WeightSpectraConfig"):
        from_sets(WeightSpectraConfig, ["width=0"])
    with pytest.raises(DeepscopeError, match="'lrs' parameter of WeightSpectraConfig"):
        from_sets(WeightSpectraConfig, ["lrs=-0.1"])
    with pytest.raises(DeepscopeError, match="'cnn_channels' parameter"):
        from_sets(WeightSpectraConfig, ["cnn_channels=4-8-16"])


def test_tiny_run_records_every_job_and_builds_a_report(tmp_path):
    run = _run(tmp_path)
    assert run.manifest["status"] == "done"
    df = run.measurements()
    mlp = df[df.lens == "spectra:mlp"]
    assert sorted(mlp.step.unique()) == [0, 1, 2]
    assert list(dict.fromkeys(mlp.layer)) == ["fc1", "fc2", "fc3"]
    assert {"alpha", "alpha_hat", "n_spikes", "n_traps", "rand_distance"} <= set(mlp.metric)
    cnn = df[df.lens == "spectra:cnn"]
    assert list(dict.fromkeys(cnn.layer)) == ["conv1", "conv2", "fc1", "fc2"]
    zoo = df[df.lens.str.startswith("spectra:zoo")]
    assert sorted(zoo.step.unique()) == [0, 1]  # initialisation and the end
    lenses = set(df.lens)
    assert {"spectra:random-labels", "spectra:batch64-lr0.1", "training:zoo2"} <= lenses
    acc = df[(df.lens == "training:mlp") & (df.metric == "test_acc")]
    assert ((acc.value >= 0) & (acc.value <= 1)).all()
    assert (run.path / "report.html").exists()
    for job in ("mlp", "cnn", "random-labels"):
        assert run.artifact_path(f"{job}.pt").exists()
    study = studies.get("weight-spectra")
    names = [f.name for f in study.figures(run)]
    assert names[:3] == ["esd_mlp", "esd_cnn", "esd_random-labels"]
    assert {"alpha_vs_epoch", "batch_lr", "zoo"} <= set(names)
    summary = study.summary_table(run)
    first = summary[(summary.job == "mlp") & (summary.layer == "fc2")].iloc[0]
    value = df[(df.lens == "spectra:mlp") & (df.layer == "fc2") & (df.metric == "alpha")
               & (df.step == 0)].value.iloc[0]
    assert first["alpha first"] == pytest.approx(value, abs=1e-3)


def test_zoo_correlation_is_spearman_of_the_zoo():
    rows = []
    for k, (a, t) in enumerate([(1.0, 0.9), (2.0, 0.8), (3.0, 0.7), (4.0, 0.75)]):
        for metric, value in (("alpha_hat_mean", a), ("test_acc", t)):
            rows.append({"step": 3, "lens": f"training:zoo{k}", "layer": "", "metric": metric,
                         "value": value, "seed": 0})
    rho, p, wide = zoo_correlation(pd.DataFrame(rows))
    assert rho == pytest.approx(-0.8) and len(wide) == 4


@pytest.mark.slow  # the resume test below also checks the numbers against a full run
def test_same_config_same_numbers(tmp_path):
    a = _run(tmp_path / "a", report=False).measurements()
    b = _run(tmp_path / "b", report=False).measurements()
    pd.testing.assert_frame_equal(a, b)


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path):
    full = _run(tmp_path / "full", report=False).measurements()
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", report=False, progress=Interrupt(after=6))
    store = RunStore(root=tmp_path / "cut")
    run_id = store.list().id.iloc[0]
    kept = store.open(run_id).measurements()
    assert 0 < len(kept) < len(full)
    resumed = studies.run_study("weight-spectra", root=tmp_path / "cut", resume=run_id,
                                report=False)
    keys = ["step", "lens", "layer", "metric", "seed"]
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(keys).reset_index(drop=True),
        full.sort_values(keys).reset_index(drop=True))
    assert np.isfinite(resumed.measurements().value).any()
