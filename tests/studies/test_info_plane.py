import numpy as np
import pandas as pd
import pytest

from deepscope import studies
from deepscope.errors import DeepscopeError
from deepscope.store import RunStore
from deepscope.studies._config import from_sets
from deepscope.studies.info_plane import InfoPlaneConfig, capture_schedule
from tests.studies._support import Interrupt

TINY = ["epochs=30", "capture_points=12", "widths=12-6-4-2", "checkpoint_every=10"]


def test_capture_schedule_is_the_papers_log_grid():
    s = capture_schedule(8000, 400)
    assert s[0] == 0 and s[-1] == 7999
    assert np.all(np.diff(s) > 0)
    # early epochs are all captured, late ones sparsely (log spacing)
    assert list(s[:10]) == list(range(10))
    assert 200 < len(s) < 400


def test_config_defaults_are_the_paper_protocol():
    c = InfoPlaneConfig()
    assert c.widths == (12, 10, 7, 5, 4, 3, 2) and c.activation == "tanh"
    assert c.epochs == 8000 and c.batch_size == 256 and c.train_fraction == 0.8
    assert c.estimator_params() == {"bins": 30, "range": (-1.0, 1.0)}


def test_from_sets_parses_and_validates_with_named_fields():
    c = from_sets(InfoPlaneConfig, ["widths=12-8-2", "lr=1e-3", "activation=relu",
                                    "estimator=binning-width", "seeds=3"])
    assert c.widths == (12, 8, 2) and c.lr == 1e-3 and c.seed_list() == [0, 1, 2]
    with pytest.raises(DeepscopeError, match=r"'activation' parameter of InfoPlaneConfig must be one of \{'tanh'"):
        from_sets(InfoPlaneConfig, ["activation=gelu"])
    with pytest.raises(DeepscopeError, match="has no field 'lrr'. Fields: .*lr"):
        from_sets(InfoPlaneConfig, ["lrr=1"])
    with pytest.raises(DeepscopeError, match="'epochs' parameter of InfoPlaneConfig must be an int"):
        from_sets(InfoPlaneConfig, ["epochs=ten"])
    with pytest.raises(DeepscopeError, match="'lr' parameter"):
        from_sets(InfoPlaneConfig, ["lr=-1"])
    with pytest.raises(DeepscopeError, match="key=value"):
        from_sets(InfoPlaneConfig, ["lr"])
    with pytest.raises(DeepscopeError, match="starting with 12"):
        from_sets(InfoPlaneConfig, ["widths=10-5-2"])


def test_unknown_study_lists_known_ones():
    with pytest.raises(DeepscopeError, match="Known studies: .*info-plane"):
        studies.get("info-plain")


def _run(tmp_path, extra=(), **kw):
    return studies.run_study("info-plane", sets=TINY + list(extra), root=tmp_path, **kw)


def test_tiny_run_records_every_layer_at_every_capture_and_builds_a_report(tmp_path):
    run = _run(tmp_path)
    assert run.manifest["status"] == "done"
    df = run.measurements()
    caps = capture_schedule(30, 12)
    info = df[df.lens == "information"]
    assert sorted(info.step.unique()) == list(caps)
    assert set(info.metric) == {"i_xt", "i_ty"}
    assert info.layer.nunique() == 3  # 6, 4 and the 2-unit output
    assert len(info) == len(caps) * 3 * 2
    assert ((info.value >= -1e-9) & (info.value <= 12 + 1e-9)).all()
    i_ty = info[info.metric == "i_ty"].value
    assert (i_ty <= 1.0 + 1e-9).all()  # H(Y) < 1 bit
    assert set(df[df.lens == "training"].metric) == {"train_loss", "train_acc", "test_loss", "test_acc"}
    assert (run.path / "report.html").exists()
    summary = studies.get("info-plane").summary_table(run)
    assert list(summary.layer) == list(dict.fromkeys(info.layer))


def test_same_config_same_numbers(tmp_path):
    a = _run(tmp_path / "a").measurements()
    b = _run(tmp_path / "b").measurements()
    pd.testing.assert_frame_equal(a, b)


def test_seed_inside_a_batch_of_seeds_equals_seed_alone(tmp_path):
    many = _run(tmp_path / "m", ["seeds=3"], report=False).measurements()
    one = _run(tmp_path / "o", ["first_seed=1"], report=False).measurements()
    got = many[many.seed == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(got[["step", "lens", "layer", "metric"]],
                                  one[["step", "lens", "layer", "metric"]])
    np.testing.assert_allclose(got.value.to_numpy(), one.value.to_numpy(), rtol=0, atol=1e-9)


def test_interrupted_run_keeps_flushed_parts_and_resumes_to_the_same_numbers(tmp_path):
    full = _run(tmp_path / "full", report=False).measurements()
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "cut", report=False, progress=Interrupt(after=15))
    store = RunStore(root=tmp_path / "cut")
    listed = store.list()
    assert listed.status.iloc[0] == "interrupted"
    run_id = listed.id.iloc[0]
    kept = store.open(run_id).measurements()
    assert 0 < len(kept) < len(full)
    resumed = studies.run_study("info-plane", root=tmp_path / "cut", resume=run_id, report=False)
    assert resumed.manifest["status"] == "done"
    pd.testing.assert_frame_equal(
        resumed.measurements().sort_values(["step", "lens", "layer", "metric", "seed"]).reset_index(drop=True),
        full.sort_values(["step", "lens", "layer", "metric", "seed"]).reset_index(drop=True),
    )


def test_resume_refuses_a_finished_run(tmp_path):
    run = _run(tmp_path, report=False)
    with pytest.raises(DeepscopeError, match="already done"):
        studies.run_study("info-plane", root=tmp_path, resume=run.id)


@pytest.mark.parametrize("estimator", ["binning-width", "binning-adaptive", "kde"])
def test_other_estimators_run(tmp_path, estimator):
    run = _run(tmp_path, [f"estimator={estimator}", "activation=relu", "epochs=5",
                          "capture_points=3"], report=False)
    df = run.measurements()
    metrics = set(df[df.lens == "information"].metric)
    assert {"i_xt", "i_ty"} <= metrics
    if estimator == "kde":
        assert {"i_xt_lower", "i_ty_lower"} <= metrics


def test_run_study_progress_false_is_silent_and_bad_progress_is_an_error(tmp_path):
    from deepscope.errors import DeepscopeError

    with pytest.raises(DeepscopeError, match="'progress' parameter of run_study"):
        studies.run_study("info-plane", sets=TINY, root=tmp_path, progress=3)
    assert not (tmp_path / "info-plane").exists()  # nothing created before validation
    run = studies.run_study("info-plane", sets=TINY, root=tmp_path,
                            progress=False, report=False)
    assert run.manifest["status"] == "done"
