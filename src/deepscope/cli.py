"""The ``deepscope`` command: parse, call the library, print. Nothing else lives here.

Commands that compute nothing (``--help``, ``studies``, ``runs list``) import neither torch
nor pandas nor matplotlib, so they answer at once; user text is never read as Rich markup.
"""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

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
__import__("deepscope.inspection.cli", fromlist=["register"]).register(app)  # deepscope inspect
__import__("deepscope.sweeps.cli", fromlist=["register"]).register(app)  # sweep, sweeps list|show

out_console = Console()
err_console = Console(stderr=True)

OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Runs folder.", envvar="DEEPSCOPE_RUNS")]


def _cell(v) -> Text:
    return Text(f"{v:.6g}" if isinstance(v, float) else str(v))  # Text: never markup


def _rows_table(columns, rows, title: str | None = None, limit: int = 200) -> Table:
    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(Text(str(col)))
    for row in list(rows)[:limit]:
        table.add_row(*[_cell(v) for v in row])
    return table


def _frame_table(df, title: str | None = None, limit: int = 200) -> Table:
    return _rows_table(df.columns, df.head(limit).itertuples(index=False), title, limit)


def _warn_lines(lines) -> None:
    for line in lines:
        err_console.print(f"[yellow]warning:[/yellow] {escape(str(line))}", highlight=False,
                          soft_wrap=True)


@contextlib.contextmanager
def _warnings_as_lines():
    """Python warnings raised inside (e.g. skipped damaged files) printed as one line each."""
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    _warn_lines(w.message for w in caught)


@app.command("studies")
def studies_cmd(
    name: Annotated[Optional[str], typer.Argument(help="Show one study's config fields.")] = None,
) -> None:
    """The catalog of studies, one line each (or one study's config fields)."""
    if name is None:
        from deepscope._study_index import STUDIES  # a static table: no torch, no study code

        for study_name, summary, _paper in STUDIES:
            out_console.print(f"[bold]{escape(study_name)}[/bold]  {escape(summary)}",
                              highlight=False)
        return
    from deepscope import studies
    from deepscope.studies._config import describe_fields

    study = studies.get(name)
    out_console.print(f"[bold]{escape(study.name)}[/bold]: {escape(study.summary)}\n"
                      f"Paper: {escape(study.paper)}", highlight=False)
    table = Table("field", "default", "accepts", "help")
    for row in describe_fields(study.config_cls):
        table.add_row(*[Text(str(c)) for c in row])
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
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, max=256, help="Torch CPU threads while the study runs (default 1, or the resumed run's; recorded in the manifest).")] = None,
) -> None:
    """Run a study; every measurement goes into OUT/<study>/<id>/."""
    from deepscope.studies import run_study
    from deepscope.studies._runner import RunInterrupted

    sets = list(set_ or [])
    if seeds is not None:
        sets.append(f"seeds={seeds}")
    if resume is not None and sets:
        raise DeepscopeError("--resume continues a run with its stored config; drop --set/--seeds.")
    try:
        with _rich_progress(quiet) as progress:
            run = run_study(study, sets=sets, root=out, device=device, resume=resume,
                            progress=progress, report=not no_report, threads=threads)
    except RunInterrupted as stop:
        err_console.print(
            f"[yellow]interrupted[/yellow]: run {escape(stop.run_id)} keeps the measurements "
            f"of its last checkpoint. Continue it with:\n  {escape(stop.resume_command)}",
            highlight=False, soft_wrap=True)
        global _interrupt_shown
        _interrupt_shown = True
        raise typer.Exit(130) from None
    m = run.manifest
    out_console.print(f"run [bold]{escape(run.id)}[/bold] {escape(str(m.get('status')))} in "
                      f"{m.get('elapsed_s') or 0:.1f} s -> {escape(str(run.path))}",
                      highlight=False, soft_wrap=True)
    report = run.path / "report.html"
    if report.exists():
        out_console.print(f"report: {escape(str(report.resolve()))}", highlight=False,
                          soft_wrap=True)


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
    with _warnings_as_lines():
        path = build_study_report(run)
    out_console.print(f"report: {escape(str(Path(path).resolve()))}", highlight=False,
                      soft_wrap=True)


@runs_app.command("list")
def runs_list(out: OutOpt = Path("runs")) -> None:
    """Every run, newest first; damaged files are skipped and named, one line each."""
    from deepscope.store import RunStore

    rows, problems = RunStore(root=out).scan()  # no pandas, no torch: answers at once
    _warn_lines(problems)
    if not rows:
        out_console.print(f"No runs under {escape(str(out))}.", highlight=False)
        return
    columns = ["id", "study", "status", "created", "seeds", "rows", "elapsed_s"]
    out_console.print(_rows_table(columns, ([r[c] for c in columns] for r in rows)))


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="Run id (a unique prefix is enough).")],
    out: OutOpt = Path("runs"),
) -> None:
    """A run's manifest and a count of its measurements."""
    import json

    from deepscope.store import RunStore

    run = RunStore(root=out).open(run_id)
    out_console.print_json(json.dumps(run.manifest, default=str))  # JSON, never markup
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

    with _warnings_as_lines():
        df = RunStore(root=out).query(sql)
    if csv:
        sys.stdout.write(df.to_csv(index=False))
    else:
        out_console.print(_frame_table(df))


_interrupt_shown = False


def main() -> None:
    """Entry point: a DeepscopeError becomes one red line and exit code 2; Ctrl-C exits 130."""
    try:
        code = app(standalone_mode=False)  # Typer turns Ctrl-C into a returned 130
    except DeepscopeError as exc:
        err_console.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False,
                          soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        code = 130
    except Exception as exc:  # click usage errors and aborts
        # Typer either depends on click or vendors it as typer._click (0.29+): match by the
        # class names both share rather than importing one of them.
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if "ClickException" in kinds:
            exc.show()  # type: ignore[attr-defined]
            sys.exit(getattr(exc, "exit_code", 2))
        if "Abort" not in kinds:
            raise
        code = 130
    if code == 130 and not _interrupt_shown:
        err_console.print("[yellow]interrupted[/yellow]", highlight=False)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
