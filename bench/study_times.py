"""Wall time of each study's default config, as a user runs it (``deepscope run NAME``).

Each study runs in a fresh process with ``--threads`` (default 1); the manifest's own
timings (training and measurement, report) are kept beside the wall time of the whole
command, with the machine's 1-minute load average before and after (numbers taken on a
shared machine are slower; the load says how shared). Writes ``bench/results/study_times.json``.

    python bench/study_times.py [--threads 1] [--study NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _results  # noqa: E402


def main() -> None:
    from deepscope._study_index import STUDIES

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--study", action="append", default=None)
    args = parser.parse_args()
    names = args.study or [name for name, _, _ in STUDIES]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            load0 = os.getloadavg()[0]
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "deepscope.cli", "run", name, "--threads",
                            str(args.threads), "--out", tmp, "--quiet"], check=True,
                           capture_output=True)
            wall = time.perf_counter() - t0
            manifest = json.loads(next((Path(tmp) / name).glob("*/manifest.json")).read_text())
            rows.append({"study": name, "threads": args.threads, "wall_s": round(wall, 1),
                         "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                         "train_and_measure_s": manifest.get("train_and_measure_s"),
                         "report_s": manifest.get("report_s"),
                         "load_before": round(load0, 1),
                         "load_after": round(os.getloadavg()[0], 1)})
            print(rows[-1], flush=True)
    cmd = f"python bench/study_times.py --threads {args.threads}"
    if args.study:  # a partial run updates its studies' rows and keeps the others
        cmd += "".join(f" --study {s}" for s in args.study)
        old = _results.RESULTS / "study_times.json"
        if old.exists():
            kept = [r for r in json.loads(old.read_text())["results"] if r["study"] not in names]
            rows = sorted(kept + rows, key=lambda r: r["study"])
    for row in rows:
        row.setdefault("command", cmd)
    _results.write("study_times", "python bench/study_times.py (see each row's command)", rows)


if __name__ == "__main__":
    main()
