"""The sweep commands of ``deepscope``: ``sweep``, ``sweeps list|show`` (and the sweep branch of
``deepscope report``). Registered on the main app by :func:`register`; heavy imports happen
inside the commands so the CLI still answers at once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

__all__ = ["register", "report_sweep"]

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Runs folder.", envvar="DEEPSCOPE_RUNS")]


def _consoles() -> tuple[Any, Any]:
    from deepscope.cli import err_console, out_console

    return out_console, err_console


def sweep_cmd(
    study: Annotated[Optional[str], typer.Argument(help="Study name (see `deepscope studies`).")] = None,
    grid: Annotated[Optional[list[str]], typer.Option("--grid", "-g", help="A grid axis: key=v1,v2 (repeatable).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="A setting shared by every cell: key=value (repeatable).")] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per cell (0 .. N-1).")] = 1,
    seed_group: Annotated[Optional[int], typer.Option("--seed-group", help="Seeds per run (default: all for a study that stacks seeds, else 1).")] = None,
    executor: Annotated[str, typer.Option("--executor", "-e", help="local or ray.")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (auto, ray://host:10001).")] = None,
    workers: Annotated[Optional[int], typer.Option("--workers", "-j", help="Local processes (default cores // threads).")] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="Torch CPU threads per run.")] = None,
    retries: Annotated[int, typer.Option("--retries", help="Times a failed run is tried again.")] = 2,
    device: Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = None,
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue a sweep by id.")] = None,
    out: OutOpt = Path("runs"),
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip the aggregated report.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Run a study over a grid x seeds; every run goes into OUT, the sweep into OUT/sweeps/<id>/."""
    from deepscope.cli import _rich_progress
    from deepscope.errors import DeepscopeError
    from deepscope.sweeps import sweep

    out_console, _ = _consoles()
    if resume is not None and (study or grid or set_ or seeds != 1 or seed_group):
        raise DeepscopeError("--resume continues a sweep with its stored spec; drop the study, "
                             "--grid, --set, --seeds and --seed-group.")
    if resume is None and study is None:
        raise DeepscopeError("Give a study (see `deepscope studies`) or --resume ID.")
    with _rich_progress(quiet) as progress:
        sw = sweep(study, grid=list(grid or []), seeds=seeds, fixed=list(set_ or []),
                   executor=executor, workers=workers, threads=threads, address=address,
                   retries=retries, seed_group=seed_group, root=out, device=device,
                   resume=resume, report=not no_report, progress=progress)
    m = sw.manifest
    counts = ", ".join(f"{v} {k}" for k, v in sorted(m.get("counts", {}).items()))
    out_console.print(f"sweep [bold]{sw.id}[/bold] {m['status']}: {len(m['runs'])} runs "
                      f"({counts}) in {m.get('elapsed_s') or 0:.1f} s -> {sw.path}",
                      highlight=False, soft_wrap=True)
    report = sw.path / "report.html"
    if report.exists():
        out_console.print(f"report: {report.resolve()}", highlight=False, soft_wrap=True)
    if m["status"] != "done":
        out_console.print(f"continue with: deepscope sweep --resume {sw.id}", highlight=False)


def list_cmd(out: OutOpt = Path("runs")) -> None:
    """Every sweep, newest first."""
    from deepscope.cli import _frame_table
    from deepscope.sweeps import list_sweeps

    out_console, _ = _consoles()
    df = list_sweeps(out)
    if df.empty:
        out_console.print(f"No sweeps under {out}.")
        return
    out_console.print(_frame_table(df))


def show_cmd(
    sweep_id: Annotated[str, typer.Argument(help="Sweep id (a unique prefix is enough).")],
    out: OutOpt = Path("runs"),
) -> None:
    """A sweep's spec, status and runs."""
    from deepscope.cli import _frame_table
    from deepscope.sweeps import open_sweep

    out_console, _ = _consoles()
    sw = open_sweep(sweep_id, out)
    m = sw.manifest
    spec = {k: m.get(k) for k in ("id", "study", "grid", "fixed", "seeds", "seed_group",
                                   "executor", "created", "finished", "elapsed_s", "counts")}
    spec["status"] = sw.status
    import json

    out_console.print_json(json.dumps(spec, default=str))
    runs = sw.runs()
    runs["error"] = runs["error"].map(lambda e: (str(e).splitlines() or [""])[0][:80]
                                      if e else "")
    out_console.print(_frame_table(runs, title="runs"))


def report_sweep(sweep_id: str, out: Path) -> Path | None:
    """The aggregated report of sweep ``sweep_id`` (rebuilt), or None when no sweep has it."""
    from deepscope.sweeps.folder import is_sweep, open_sweep

    if not sweep_id.startswith("sw-") or not is_sweep(sweep_id, out):
        return None
    return open_sweep(sweep_id, out).report()


def register(app: typer.Typer) -> None:
    """Add ``sweep`` and ``sweeps list|show`` to the ``deepscope`` app."""
    app.command("sweep")(sweep_cmd)
    sweeps_app = typer.Typer(help="List and show sweeps.", no_args_is_help=True)
    sweeps_app.command("list")(list_cmd)
    sweeps_app.command("show")(show_cmd)
    app.add_typer(sweeps_app, name="sweeps")
