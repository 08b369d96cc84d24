"""BENCHMARKS.md's generated tables match the JSON results the bench scripts wrote."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_generated_tables_are_up_to_date():
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "tables.py"), "--check"],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_every_result_file_names_its_command():
    import json

    for path in (ROOT / "bench" / "results").glob("*.json"):
        data = json.loads(path.read_text())
        assert data["command"].startswith("python bench/"), path
        assert data["results"], path
