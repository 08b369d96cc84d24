import os
import subprocess
import sys

from typer.testing import CliRunner

from deepscope.cli import app

runner = CliRunner()


def _cli(*args, cwd=None):
    env = dict(os.environ, COLUMNS="200")
    return subprocess.run([sys.executable, "-m", "deepscope.cli", *args], capture_output=True,
                          text=True, cwd=cwd, env=env, timeout=300)


def test_studies_catalog_one_line_each():
    res = runner.invoke(app, ["studies"])
    assert res.exit_code == 0
    assert "info-plane" in res.output


def test_studies_detail_lists_fields():
    res = runner.invoke(app, ["studies", "info-plane"], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and "estimator" in res.output and "binning-width" in res.output


def test_run_list_show_query_report_round_trip(tmp_path):
    out = str(tmp_path)
    res = _cli("run", "info-plane", "--set", "epochs=6", "--set", "capture_points=4",
               "--set", "widths=12-5-2", "--seeds", "2", "--out", out, "--quiet")
    assert res.returncode == 0, res.stderr
    assert "report:" in res.stdout and "report.html" in res.stdout
    listed = runner.invoke(app, ["runs", "list", "--out", out], env={"COLUMNS": "200"})
    assert listed.exit_code == 0 and "info-plane" in listed.output
    run_id = next(p.name for p in (tmp_path / "info-plane").iterdir())
    shown = runner.invoke(app, ["runs", "show", run_id[:15], "--out", out])
    assert shown.exit_code == 0 and '"status": "done"' in shown.output
    q = runner.invoke(app, ["runs", "query", "SELECT count(DISTINCT seed) AS n FROM measurements",
                            "--out", out, "--csv"])
    assert q.exit_code == 0 and q.output.strip().splitlines() == ["n", "2"]
    (tmp_path / "info-plane" / run_id / "report.html").unlink()
    rep = runner.invoke(app, ["report", run_id, "--out", out])
    assert rep.exit_code == 0 and (tmp_path / "info-plane" / run_id / "report.html").exists()


def test_errors_are_one_red_line_and_exit_2(tmp_path):
    res = _cli("run", "info-plain", "--out", str(tmp_path))
    assert res.returncode == 2
    assert "Unknown study 'info-plain'. Known studies: " in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) <= 2
    res = _cli("run", "info-plane", "--set", "activation=gelu", "--out", str(tmp_path))
    assert res.returncode == 2 and "'activation' parameter of InfoPlaneConfig" in res.stderr
    assert "Traceback" not in res.stderr
    res = _cli("runs", "show", "nope", "--out", str(tmp_path))
    assert res.returncode == 2 and "Traceback" not in res.stderr


def test_help_everywhere():
    for args in (["--help"], ["run", "--help"], ["runs", "--help"], ["runs", "query", "--help"],
                 ["report", "--help"], ["studies", "--help"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "Usage" in res.output


def test_usage_error_is_a_message_not_a_traceback():
    res = _cli("run", "info-plane", "--bogus")
    assert res.returncode == 2
    assert "No such option" in res.stderr and "Traceback" not in res.stderr
