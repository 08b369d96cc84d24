"""The Ray executor on a local Ray instance (num_cpus=2).

Starting Ray and its workers (each imports torch) takes about a minute on a busy 2-core
machine, so the tests that run a sweep on Ray are marked ``slow``.
"""

from __future__ import annotations

import pytest

import deepscope as ds
from deepscope.errors import DeepscopeValueError
from tests.sweeps import toy_study  # noqa: F401  (registers sweep-toy)

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def executor():
    from deepscope.sweeps import RayExecutor

    ex = RayExecutor(num_cpus=2)
    yield ex
    ray.shutdown()


@pytest.mark.slow
def test_ray_sweep_matches_the_local_one(tmp_path, executor):
    grid = {"mode": ["a", "b"]}
    on_ray = ds.sweep("sweep-toy", grid=grid, seeds=2, root=tmp_path / "ray",
                      executor=executor, report=False)
    local = ds.sweep("sweep-toy", grid=grid, seeds=2, root=tmp_path / "local", report=False)
    assert on_ray.id == local.id  # the executor is not part of what a sweep is
    assert on_ray.manifest["status"] == "done"
    assert on_ray.manifest["executor"]["name"] == "ray"
    a = on_ray.measurements().drop(columns="sweep_id")
    b = local.measurements().drop(columns="sweep_id")
    assert a.equals(b)  # same run ids, bit-identical rows


@pytest.mark.slow
def test_ray_failures_and_a_killed_worker(tmp_path, executor):
    marker = tmp_path / "once"
    sw = ds.sweep("sweep-toy", grid={"mode": ["a", "b"]}, seeds=3,
                  fixed={"fail_seed": 2, "once": str(marker), "kill": True},
                  retries=1, root=tmp_path, executor=executor, report=False)
    m = sw.manifest
    assert marker.exists()
    statuses = sorted(r["status"] for r in m["runs"])
    assert statuses == ["done"] * 4 + ["failed"] * 2
    assert any(r["attempts"] == 2 and r["status"] == "done" for r in m["runs"])
    df = sw.measurements()
    assert len(df) == 4 * 3
    assert not df.duplicated(["run_id", "seed", "step"]).any()


def test_ray_executor_checks_its_arguments():
    from deepscope.sweeps import RayExecutor

    with pytest.raises(DeepscopeValueError, match="'threads' parameter of RayExecutor"):
        RayExecutor(threads=0)
