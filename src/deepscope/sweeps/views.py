"""DuckDB views over a sweep: measurements and runs with ``sweep_id`` and the grid columns."""

from __future__ import annotations

from typing import Any

from deepscope.errors import DeepscopeError

__all__ = ["query"]

_PATTERN = r"([^/\\]+)[/\\]parts[/\\][^/\\]+$"


def _sql_path(path: Any) -> str:
    return path.resolve().as_posix().replace("'", "''")


def query(sweep: Any, sql: str) -> Any:
    """Run ``sql`` with the views ``measurements`` and ``runs`` of ``sweep`` (see
    :meth:`deepscope.sweeps.Sweep.query`)."""
    import duckdb

    runs = sweep.runs()
    runs.insert(0, "sweep_id", sweep.id)
    grid = [c for c in sweep.grid]
    keys = runs[["run_id", "cell", *grid]]
    con = duckdb.connect(":memory:")
    try:
        con.register("_deepscope_sweep_runs", runs)
        con.register("_deepscope_sweep_keys", keys)
        con.execute("CREATE VIEW runs AS SELECT * FROM _deepscope_sweep_runs")
        base = sweep.root / sweep.study
        has_parts = any(base.glob("*/parts/*.parquet")) if base.is_dir() else False
        quoted = ", ".join(f'k."{c}"' for c in grid)
        cols = f"'{sweep.id}' AS sweep_id, k.run_id, k.cell{', ' if grid else ''}{quoted}"
        if has_parts:
            source = (f"(SELECT regexp_extract(filename, '{_PATTERN}', 1) AS run_id, step, lens, "
                      "layer, metric, value, seed FROM "
                      f"read_parquet('{_sql_path(base)}/*/parts/*.parquet', filename = true))")
        else:
            source = ("(SELECT NULL::VARCHAR AS run_id, NULL::BIGINT AS step, NULL::VARCHAR AS "
                      "lens, NULL::VARCHAR AS layer, NULL::VARCHAR AS metric, NULL::DOUBLE AS "
                      "value, NULL::BIGINT AS seed WHERE false)")
        con.execute(f"CREATE VIEW measurements AS SELECT {cols}, m.step, m.lens, m.layer, "
                    f"m.metric, m.value, m.seed FROM {source} m JOIN _deepscope_sweep_keys k "
                    "USING (run_id)")
        return con.execute(sql).df()
    except duckdb.Error as exc:
        raise DeepscopeError(f"Query failed: {exc}") from None
    finally:
        con.close()
