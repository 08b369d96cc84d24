"""How fast the ``deepscope`` commands that compute nothing answer, and what they import.

Each command runs in a fresh interpreter (best wall time of ``--repeats``), and once more
under ``python -X importtime`` to list the heavy modules it loaded (torch, pandas,
matplotlib must not be among them). CPU seconds (user + system of the child) are given
beside wall time: on a loaded machine they are the steadier number. ``--baseline SRC``
measures another source tree the same way in the same run (e.g. the tree before lazy
imports). Writes ``bench/results/startup.json``.

    python bench/startup.py [--repeats 5] [--baseline /path/to/other/src]
"""

from __future__ import annotations

import argparse
import os
import resource
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: E402

HEAVY = ("torch", "pandas", "matplotlib", "numpy", "pyarrow", "duckdb", "scipy")


def _commands(store: str) -> dict[str, list[str]]:
    cli = [sys.executable, "-m", "deepscope.cli"]
    return {
        "import deepscope": [sys.executable, "-c", "import deepscope"],
        "deepscope --help": [*cli, "--help"],
        "deepscope studies": [*cli, "studies"],
        "deepscope runs list (3 runs)": [*cli, "runs", "list", "--out", store],
        "deepscope run --help": [*cli, "run", "--help"],
    }


def _make_store(root: str) -> None:
    code = ("from deepscope.store import RunStore\n"
            f"s = RunStore({root!r})\n"
            "for i in range(3):\n"
            "    r = s.create(study='info-plane', config={'i': i}, seeds=[0])\n"
            "    r.record(step=0, lens='l', layer='a', metric='m', value=[1.0] * 10)\n"
            "    r.set_status('done')\n")
    here = str(Path(__file__).resolve().parent.parent / "src")
    subprocess.run([sys.executable, "-c", code], check=True, env=dict(os.environ, PYTHONPATH=here))


def _heavy_imports(cmd: list[str], env: dict[str, str]) -> list[str]:
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], capture_output=True,
                         text=True, env=env)
    names = set(re.findall(r"\|\s+([\w.]+)\s*$", out.stderr, flags=re.M))
    return sorted(h for h in HEAVY if h in names)


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _measure(tree: str, label: str, store: str, repeats: int) -> list[dict]:
    env = dict(os.environ, OMP_NUM_THREADS="1", COLUMNS="120", PYTHONPATH=tree)
    rows = []
    for name, cmd in _commands(store).items():
        walls, cpus = [], []
        for _ in range(repeats):
            c0, t0 = _cpu(), time.perf_counter()
            subprocess.run(cmd, capture_output=True, env=env, check=True)
            walls.append(time.perf_counter() - t0)
            cpus.append(_cpu() - c0)
        rows.append({"tree": label, "command": name, "best_s": round(min(walls), 3),
                     "median_s": round(sorted(walls)[len(walls) // 2], 3),
                     "best_cpu_s": round(min(cpus), 3),
                     "heavy_imports": _heavy_imports(cmd, env)})
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline", default=None, help="another src/ to measure alike")
    args = parser.parse_args()
    here = str(Path(__file__).resolve().parent.parent / "src")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = str(Path(tmp) / "runs")
        _make_store(store)
        rows += _measure(here, "this tree", store, args.repeats)
        if args.baseline:
            rows += _measure(args.baseline, "baseline", store, args.repeats)
    command = f"python bench/startup.py --repeats {args.repeats}"
    if args.baseline:
        command += " --baseline SRC"
    _results.write("startup", command, rows)


if __name__ == "__main__":
    main()
