"""Runs on disk: a manifest, tidy measurements in Parquet parts, artifacts; DuckDB queries.

A run is a folder ``<root>/<study>/<id>/``::

    manifest.json           what ran, with which config and seeds, its status and timings
    parts/part-00000.parquet, part-00001.parquet, ...
                            tidy rows: step, lens, layer, metric, value, seed
    figures/                PNG (and SVG) figures written by the report
    report.html             the self-contained report
    checkpoint.pt, ...      artifacts written by studies (``run.artifact_path(name)``);
                            checkpoints hold tensors and plain containers only
    run.lock                pid, host and start time of the process writing the run

:meth:`Run.record` buffers rows; :meth:`Run.flush` writes them as the next part. Parts and
the manifest go to a temporary file moved into place with :func:`os.replace`, so a run
killed at any moment keeps every part it flushed and a readable manifest; a run folder is
built under a hidden name and renamed into place. Nothing in a run folder is ever
unpickled. The manifest records the store ``format`` (:data:`FORMAT`); runs of an older
format are read (and migrated on resume), newer ones refused with one line naming the
version that wrote them.
:meth:`RunStore.query` reads every run of a folder with one DuckDB glob.

Example:
    >>> store = RunStore(root="runs")
    >>> run = store.create(study="info-plane", config={"lr": 1e-3}, seeds=[0])
    >>> run.record(step=10, lens="information", layer=["fc1", "fc2"], metric="i_xt",
    ...            value=[5.2, 3.1])
    2
    >>> _ = run.flush(); run.set_status("done")
    >>> store.query("SELECT layer, value FROM measurements WHERE metric = 'i_xt'")
      layer  value
    0   fc1    5.2
    1   fc2    3.1
"""

from __future__ import annotations

from deepscope.store._catalog import RunStore
from deepscope.store._io import FORMAT, RunLocked
from deepscope.store._run import COLUMNS, STATUSES, Run

__all__ = ["COLUMNS", "FORMAT", "Run", "RunLocked", "RunStore", "STATUSES"]
