"""The ``deepscope inspect`` command (registered on the main app by :func:`register`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer


def inspect_cmd(
    model: Annotated[str, typer.Argument(help="'package.module:factory', 'hf:DIR' or a Hugging Face directory.")],
    weights: Annotated[Optional[Path], typer.Option("--weights", help=".safetensors, *.safetensors.index.json, or .pt (weights only).")] = None,
    data: Annotated[Optional[Path], typer.Option("--data", help="(inputs, targets) in .pt (weights only), .npz or .safetensors.")] = None,
    loss: Annotated[Optional[str], typer.Option("--loss", help="cross_entropy, causal_lm, mse or model_loss.")] = None,
    lenses: Annotated[Optional[str], typer.Option("--lenses", help="Comma-separated: spectra,curvature,landscape,gradients,information,regions, registered lens names (family.function), or all.")] = None,
    time_limit: Annotated[Optional[float], typer.Option("--time-limit", help="Seconds for the whole checkup: a lens not started by then is skipped; a running lens finishes within its own budget.")] = None,
    against: Annotated[Optional[Path], typer.Option("--against", help="Weights of a second checkpoint of the same model.")] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Runs folder.", envvar="DEEPSCOPE_RUNS")] = Path("runs"),
) -> None:
    """A checkup of your own model: every lens that applies, each isolated, stored as a run."""
    from rich.console import Console

    from deepscope import losses
    from deepscope.errors import DeepscopeValueError
    from deepscope.inspection import inspect, load_data, load_model

    err = Console(stderr=True)
    loss_fn = None
    if loss is not None:
        if loss not in ("cross_entropy", "causal_lm", "mse", "model_loss"):
            raise DeepscopeValueError(f"The 'loss' parameter of inspect must be one of "
                                      f"cross_entropy, causal_lm, mse, model_loss. Got {loss!r}.")
        loss_fn = getattr(losses, loss)
    net = load_model(model, weights)
    other = load_model(model, against) if against is not None else None
    batch = load_data(data) if data is not None else None
    names = [n.strip() for n in lenses.split(",") if n.strip()] if lenses else None
    sources = {"model": model, "weights": str(weights) if weights else None,
               "data": str(data) if data else None, "against": str(against) if against else None}
    run = inspect(net, data=batch, loss_fn=loss_fn, lenses=names, time_limit=time_limit,
                  against=other, root=out, seed=seed, sources=sources,
                  progress=lambda line: err.print(f"[dim]{line}[/dim]", highlight=False))
    console = Console()
    for rec in run.manifest.get("lenses", []):
        colour = {"done": "green", "failed": "red"}.get(rec["status"], "yellow")
        console.print(f"[{colour}]{rec['status']:8}[/{colour}] {rec['lens']} ({rec['model']}) "
                      f"{rec['seconds']:.1f} s {rec['detail']}", highlight=False, soft_wrap=True)
    for line in run.manifest.get("findings", []):
        console.print(f"- {line}", highlight=False, soft_wrap=True)
    console.print(f"run {run.id} -> {run.path}\nreport: {(run.path / 'report.html').resolve()}",
                  highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``inspect`` to the ``deepscope`` app (imports nothing heavy)."""
    app.command("inspect")(inspect_cmd)
