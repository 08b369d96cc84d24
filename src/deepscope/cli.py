"""The ``deepscope`` command: parse, call the library, print. Nothing else lives here."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from deepscope.errors import DeepscopeError

app = typer.Typer(
    help="deepscope: look inside deep networks. Run papers' studies, store every "
         "measurement, and build self-contained HTML reports.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="List, show and query stored runs.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
from deepscope.sweeps.cli import register as _register_sweeps  # noqa: E402  (light: typer only)
_register_sweeps(app)  # deepscope sweep, deepscope sweeps list|show

out_console = Console()
err_console = Console(stderr=True)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Runs folder.", envvar="DEEPSCOPE_RUNS")]


def _frame_table(df, title: str | None = None, limit: int = 200) -> Table:
    table = Table(title=title, show_lines=False)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.head(limit).itertuples(index=False):
        table.add_row(*[f"{v:.6g}" if isinstance(v, float) else str(v) for v in row])
    return table


@app.command("studies")
def studies_cmd(
    name: Annotated[Optional[str], typer.Argument(help="Show one study's config fields.")] = None,
) -> None:
    """The catalog of studies, one line each (or one study's config fields)."""
    from deepscope import studies
    from deepscope.studies._config import describe_fields

    if name is None:
        for study in studies.catalog():
            out_console.print(f"[bold]{study.name}[/bold]  {study.summary}", highlight=False)
        return
    study = studies.get(name)
    out_console.print(f"[bold]{study.name}[/bold]: {study.summary}\nPaper: {study.paper}",
                      highlight=False)
    table = Table("field", "default", "accepts", "help")
    for row in describe_fields(study.config_cls):
        table.add_row(*row)
    out_console.print(table)


@contextlib.contextmanager
def _rich_progress(quiet: bool):
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn, TimeRemainingColumn)

    if quiet:
        yield None
        return
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), TimeRemainingColumn(), console=err_console,
                        transient=False)

    class _Task:
        def __init__(self, task_id):
            self._id = task_id

        def advance(self, n: int = 1) -> None:
            progress.advance(self._id, n)

        def update(self, **kwargs) -> None:
            progress.update(self._id, **kwargs)

    @contextlib.contextmanager
    def factory(description: str, total: int):
        task_id = progress.add_task(description, total=total)
        try:
            yield _Task(task_id)
        finally:
            progress.refresh()

    with progress:
        yield factory


@app.command("run")
def run_cmd(
    study: Annotated[str, typer.Argument(help="Study name (see `deepscope studies`).")],
    set_: Annotated[Optional[list[str]], typer.Option("--set", "-s", help="Override a config field: key=value (repeatable).")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Number of seeds (sets config 'seeds').")] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="cpu, cuda, cuda:1 ...")] = None,
    out: OutOpt = Path("runs"),
    resume: Annotated[Optional[str], typer.Option("--resume", help="Continue an interrupted run by id.")] = None,
    no_report: Annotated[bool, typer.Option("--no-report", help="Skip building report.html.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Run a study; every measurement goes into OUT/<study>/<id>/."""
    from deepscope.studies import run_study

    sets = list(set_ or [])
    if seeds is not None:
        sets.append(f"seeds={seeds}")
    if resume is not None and sets:
        raise DeepscopeError("--resume continues a run with its stored config; drop --set/--seeds.")
    with _rich_progress(quiet) as progress:
        run = run_study(study, sets=sets, root=out, device=device, resume=resume,
                        progress=progress, report=not no_report)
    m = run.manifest
    out_console.print(f"run [bold]{run.id}[/bold] {m.get('status')} in "
                      f"{m.get('elapsed_s', 0):.1f} s -> {run.path}", highlight=False,
                      soft_wrap=True)
    report = run.path / "report.html"
    if report.exists():
        out_console.print(f"report: {report.resolve()}", highlight=False, soft_wrap=True)


@app.command("report")
def report_cmd(
    run_id: Annotated[str, typer.Argument(help="Run or sweep id (a unique prefix is enough).")],
    out: OutOpt = Path("runs"),
) -> None:
    """(Re)build a run's (or a sweep's aggregated) self-contained HTML report."""
    from deepscope.store import RunStore
    from deepscope.sweeps.cli import report_sweep

    if (path := report_sweep(run_id, out)) is not None:
        out_console.print(f"report: {Path(path).resolve()}", highlight=False, soft_wrap=True)
        return
    from deepscope.studies._runner import build_study_report

    run = RunStore(root=out).open(run_id)
    path = build_study_report(run)
    out_console.print(f"report: {Path(path).resolve()}", highlight=False, soft_wrap=True)


@runs_app.command("list")
def runs_list(out: OutOpt = Path("runs")) -> None:
    """Every run, newest first."""
    from deepscope.store import RunStore

    df = RunStore(root=out).list()
    if df.empty:
        out_console.print(f"No runs under {out}.")
        return
    out_console.print(_frame_table(df))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    out: OutOpt = Path("runs"),
) -> None:
    """A run's manifest and a count of its measurements."""
    import json

    from deepscope.store import RunStore

    run = RunStore(root=out).open(run_id)
    out_console.print_json(json.dumps(run.manifest, default=str))
    df = run.measurements()
    if not df.empty:
        counts = df.groupby(["lens", "metric"]).size().reset_index(name="rows")
        out_console.print(_frame_table(counts, title="measurements"))


@runs_app.command("query")
def runs_query(
    sql: Annotated[str, typer.Argument(help="SQL over the views `measurements` and `runs`.")],
    out: OutOpt = Path("runs"),
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Run SQL (DuckDB) over all runs."""
    from deepscope.store import RunStore

    df = RunStore(root=out).query(sql)
    if csv:
        sys.stdout.write(df.to_csv(index=False))
    else:
        out_console.print(_frame_table(df))


def main() -> None:
    """Entry point: a DeepscopeError becomes one red line and exit code 2."""
    try:
        app(standalone_mode=False)
    except DeepscopeError as exc:
        err_console.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("[yellow]interrupted[/yellow]: measurements flushed so far are kept; "
                          "continue with --resume ID.")
        sys.exit(130)
    except Exception as exc:  # click usage errors and aborts
        # Typer either depends on click or vendors it as typer._click (0.29+): match by the
        # class names both share rather than importing one of them.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if "Abort" in kinds:
            sys.exit(130)
        raise

if __name__ == "__main__":
    main()
