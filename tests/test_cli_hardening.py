"""The CLI under Ctrl-C, a second writer, damaged input and hostile text: one line, no traceback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from deepscope.store import RunLocked, RunStore

LONG = ["--set", "epochs=100000", "--set", "capture_points=2000", "--set", "widths=12-5-2"]


def _env():
    return dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")


def _cli(*args, cwd=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "deepscope.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=_env(), timeout=timeout)


def _one_error_line(res):
    assert res.returncode == 2, (res.returncode, res.stderr)
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1, res.stderr
    return res.stderr.strip()


def _wait_for(cond, timeout=240.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        found = cond()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("timed out")


def _live_run(out):
    """The folder of the run a live process has locked, once it has written a part."""
    for lock in out.glob("*/*/run.lock"):
        text = lock.read_text() if lock.exists() else ""
        if text and any(lock.parent.glob("parts/part-*.parquet")):
            return lock.parent
    return None


@pytest.mark.slow
def test_second_writer_refused_then_ctrl_c_exits_130_with_resume_command(tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "deepscope.cli", "run", "info-plane", *LONG,
                             "--out", str(out), "--quiet", "--no-report"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=_env())
    try:
        run_dir = _wait_for(lambda: _live_run(out))
        run_id = run_dir.name
        holder = json.loads((run_dir / "run.lock").read_text())
        assert holder["pid"] == proc.pid and holder["host"] and holder["started"]
        second = _cli("run", "info-plane", "--resume", run_id, "--out", str(out), "--quiet")
        line = _one_error_line(second)
        assert f"Run {run_id} is being written by another process (pid {proc.pid}" in line
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert f"deepscope run info-plane --resume {run_id} --out {out}" in err
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["status"] == "interrupted" and manifest["threads"] == 1
    assert not list(run_dir.rglob("*.tmp"))


def test_stale_lock_of_a_killed_process_is_taken_over(tmp_path):
    store = RunStore(tmp_path / "runs")
    run = store.create(study="s", config={}, seeds=[0])
    code = ("import sys, time; from deepscope.store import RunStore; "
            f"run = RunStore({str(store.root)!r}).open({run.id!r}); "
            "lock = run.lock(); lock.__enter__(); print('locked', flush=True); time.sleep(600)")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                              env=_env())
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RunLocked, match=f"pid {holder.pid}"):
            with run.lock():
                pass
    finally:
        holder.kill()
        holder.wait()
    with run.lock():  # the kernel dropped the dead holder's lock: no manual cleanup
        assert json.loads((run.path / "run.lock").read_text())["pid"] == os.getpid()


def test_user_text_is_never_markup(tmp_path):
    res = _cli("run", "info-plane", "--set", "activation=[/x]", "--out", str(tmp_path))
    assert "[/x]" in _one_error_line(res)
    res = _cli("run", "info-plane", "--set", "[bold red]x", "--out", str(tmp_path))
    assert "[bold red]x" in _one_error_line(res)


def test_bad_out_and_empty_query_are_one_line(tmp_path):
    afile = tmp_path / "afile"
    afile.write_text("x")
    assert "is a file" in _one_error_line(_cli("runs", "list", "--out", str(afile)))
    line = _one_error_line(_cli("run", "info-plane", "--set", "epochs=1", "--out",
                                str(afile / "sub"), "--quiet"))
    assert "Cannot create a run folder" in line or "is a file" in line
    assert "one SQL statement" in _one_error_line(_cli("runs", "query", "", "--out",
                                                       str(tmp_path)))
    line = _one_error_line(_cli("runs", "query", "SELECT 1; SELECT 2", "--out", str(tmp_path)))
    assert "got 2" in line
    line = _one_error_line(_cli("runs", "query", "SELECT * FROM read_csv('/etc/hostname')",
                                "--out", str(tmp_path)))
    assert "Query failed" in line


def test_runs_list_skips_and_names_damaged_files(tmp_path):
    store = RunStore(tmp_path / "runs")
    good = store.create(study="s", config={}, seeds=[0])
    good.record(step=0, lens="l", layer="a", metric="m", value=[1.0, 2.0])
    good.flush()
    (good.parts_dir / "part-00001.parquet").write_bytes(b"")
    bad = store.create(study="s", config={}, seeds=[0])
    (bad.path / "manifest.json").write_text("[1, 2]")
    (store.root / "s" / "orphan").mkdir()
    res = _cli("runs", "list", "--out", str(store.root))
    assert res.returncode == 0 and "Traceback" not in res.stderr
    assert good.id in res.stdout and bad.id not in res.stdout
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 3
    assert any("part-00001.parquet is empty" in x for x in lines)
    assert any(bad.id in x and "holds a JSON list" in x for x in lines)
    assert any("orphan" in x and "holds no manifest.json" in x for x in lines)


@pytest.mark.parametrize("command", [["--help"], ["studies"], ["runs", "list"]])
def test_commands_that_compute_nothing_import_no_heavy_module(tmp_path, command):
    code = ("import sys, runpy; sys.argv = ['deepscope', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('deepscope.cli', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print('HEAVY', sorted(m for m in ('torch', 'pandas', 'matplotlib') "
            "if m in sys.modules))")
    args = [*command, "--out", str(tmp_path)] if command[0] == "runs" else command
    res = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                         env=_env(), cwd=tmp_path, timeout=120)
    assert "HEAVY []" in res.stdout, res.stdout[-300:] + res.stderr[-300:]
