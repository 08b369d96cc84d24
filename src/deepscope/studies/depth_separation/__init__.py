"""Study ``depth-separation``: Telgarsky's sawtooth, exact piece counts, deep vs shallow.

Telgarsky (2016, arXiv 1602.04485) composes the tent map ``L`` times with ``L`` hidden
ReLU layers of width 2 (``6L + 1`` parameters) and gets a sawtooth with :math:`2^L` linear
pieces on :math:`[0, 1]`; a one-hidden-layer ReLU net with ``m`` units has at most
``m + 1`` pieces, so it needs :math:`2^L - 1` units (:math:`3 \\cdot 2^L - 2` parameters)
to have as many. This study

1. counts the pieces of the constructed nets exactly (``regions_on_segment``): 2^L;
2. trains deep-narrow nets and shallow-wide nets with the same number of parameters to
   fit the sawtooth of depth ``target_depth`` and reports their L1 error and exact pieces;
3. sweeps the width of the shallow net (error and pieces against width).

Gradient training rarely finds the construction: the trained deep nets show what depth
buys *after optimisation*, which is not what it buys in principle (item 1).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["DepthSeparationConfig"]

_FIT_POINTS = 257
_TEST_POINTS = 8193


def _positive_ints(value, name: str, cls: str, high: int) -> None:
    if not value or any(isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= high
                        for v in value):
        raise param_error(name, cls, f"a non-empty list of ints in [1, {high}]", value)


@dataclass(frozen=True)
class DepthSeparationConfig:
    """Configuration of the ``depth-separation`` study."""

    max_depth: int = option(12, "constructed sawtooth nets L = 1..max_depth")
    target_depth: int = option(3, "depth L of the sawtooth the trained nets fit")
    deep_width: int = option(4, "width of the trained deep-narrow nets")
    deep_depths: tuple[int, ...] = option((2, 3, 5), "hidden layers of the deep nets")
    shallow_widths: tuple[int, ...] = option((2, 4, 8, 16, 32, 64, 128),
                                             "widths of the shallow-net sweep")
    n_train: int = option(1024, "evenly spaced training points on [0, 1]")
    steps: int = option(3000, "full-batch Adam steps")
    lr: float = option(1e-2, "Adam learning rate")
    seeds: int = option(3, "number of seeds (initialisations)")
    first_seed: int = option(0, "first seed; seeds are first_seed .. first_seed+seeds-1")

    def __post_init__(self) -> None:
        name = "DepthSeparationConfig"
        validate_choices(self)
        check_int(self.max_depth, "max_depth", name, low=1, high=24)
        check_int(self.target_depth, "target_depth", name, low=1, high=12)
        check_int(self.deep_width, "deep_width", name, low=1, high=1024)
        _positive_ints(self.deep_depths, "deep_depths", name, 64)
        _positive_ints(self.shallow_widths, "shallow_widths", name, 100000)
        check_int(self.n_train, "n_train", name, low=2, high=10**7)
        check_int(self.steps, "steps", name, low=0, high=10**7)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.seeds, "seeds", name, low=1, high=10000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def architectures(self) -> list[tuple[str, tuple[int, ...], str]]:
        """``(name, widths, group)`` of every trained net: deep nets, their equal-budget
        shallow twins (group ``"budget"``), then the shallow sweep (group ``"sweep"``)."""
        out = []
        for depth in self.deep_depths:
            widths = (1, *([self.deep_width] * depth), 1)
            params = _params(widths)
            m = max(1, round((params - 1) / 3))
            out.append((f"deep {self.deep_width}x{depth}", widths, "budget"))
            out.append((f"shallow {m} (= {params} params)", (1, m, 1), "budget"))
        for m in self.shallow_widths:
            out.append((f"shallow {m}", (1, m, 1), "sweep"))
        return out


def _params(widths: tuple[int, ...]) -> int:
    return sum((a + 1) * b for a, b in zip(widths[:-1], widths[1:]))


def _segment(model, device):
    from deepscope.lenses import regions

    zero = torch.zeros(1, device=device, dtype=next(model.parameters()).dtype)
    return regions.regions_on_segment(model, zero, zero + 1)


def _constructed(config: DepthSeparationConfig, ctx: StudyContext, task) -> None:
    from deepscope.data import sawtooth
    from deepscope.nets import sawtooth_net

    seed = config.first_seed
    xt = torch.linspace(0, 1, _TEST_POINTS, dtype=torch.float64, device=ctx.device)[:, None]
    for depth in range(1, config.max_depth + 1):
        net = sawtooth_net(depth, dtype=torch.float64).to(ctx.device)
        res = _segment(net, ctx.device)
        with torch.no_grad():
            l1 = float((net(xt) - sawtooth(xt, depth)).abs().mean())
        for metric, value in (("pieces", res.pieces), ("regions", res.count), ("l1_error", l1),
                              ("params", _params((1, *([2] * depth), 1))),
                              ("shallow_units_needed", 2**depth - 1)):
            ctx.run.record(step=depth, lens="construction", layer="sawtooth", metric=metric,
                           value=float(value), seed=seed)
        task.advance()


def _train_one(config, widths, seed, data, device):
    from deepscope.nets import MLP
    from deepscope.seeding import seeded_init
    from deepscope.studies.linear_regions.training import train

    x, y, xt, yt = data
    net = seeded_init(lambda: MLP(widths, activation="relu"), seed, device)
    loss = train(net, x, y, loss="mse", steps=config.steps, lr=config.lr, seed=seed)
    with torch.no_grad():
        pred = net(xt)
        l1 = float((pred - yt).abs().mean())
        mse = float(((pred - yt) ** 2).mean())
    res = _segment(net, device)
    idx = np.linspace(0, _TEST_POINTS - 1, _FIT_POINTS).astype(int)
    return {"l1_error": l1, "mse": mse, "train_mse": loss, "pieces": res.pieces,
            "regions": res.count, "params": _params(widths)}, pred[idx, 0].cpu().numpy()


def run(config: DepthSeparationConfig, ctx: StudyContext) -> None:
    """Count the constructed nets' pieces, then train every architecture for every seed."""
    from deepscope.data import sawtooth

    dev = ctx.device
    state = dict(ctx.resume) if ctx.resume else {"constructed": False, "done": []}
    jobs = [(name, widths, group, seed) for seed in config.seed_list()
            for name, widths, group in config.architectures()]
    x = torch.linspace(0, 1, config.n_train, device=dev).unsqueeze(1)
    xt = torch.linspace(0, 1, _TEST_POINTS, device=dev).unsqueeze(1)
    data = (x, sawtooth(x, config.target_depth), xt, sawtooth(xt, config.target_depth))
    total = config.max_depth + len(jobs)
    t0 = time.perf_counter()
    with ctx.task(f"depth-separation: sawtooth L={config.target_depth}", total) as task:
        if not state["constructed"]:
            _constructed(config, ctx, task)
            idx = np.linspace(0, _TEST_POINTS - 1, _FIT_POINTS).astype(int)
            ctx.run.record(step=np.arange(_FIT_POINTS), lens="fit", layer="target",
                           metric="y", value=data[3][idx, 0].cpu().numpy(),
                           seed=config.first_seed)
            state["constructed"] = True
            ctx.checkpoint(dict(state))
        else:
            task.advance(config.max_depth)
        for i, (name, widths, group, seed) in enumerate(jobs):
            if i < len(state["done"]):
                task.advance()
                continue
            metrics, curve = _train_one(config, widths, seed, data, dev)
            for metric, value in metrics.items():
                ctx.run.record(step=config.steps, lens=group, layer=name, metric=metric,
                               value=float(value), seed=seed)
            if seed == config.first_seed:
                ctx.run.record(step=np.arange(_FIT_POINTS), lens="fit", layer=name,
                               metric="y", value=curve, seed=seed)
            state["done"] = [*state["done"], i]
            ctx.checkpoint(dict(state))
            task.advance()
    ctx.run.update_manifest(timings={"study_s": round(time.perf_counter() - t0, 3)})


# ----------------------------------------------------------------------------- results


def _table(df: pd.DataFrame, lens: str) -> pd.DataFrame:
    part = df[df["lens"] == lens]
    wide = part.pivot_table(index=["layer", "seed"], columns="metric", values="value",
                            aggfunc="first").reset_index()
    order = list(dict.fromkeys(part["layer"]))
    wide["layer"] = pd.Categorical(wide["layer"], categories=order, ordered=True)
    return wide.sort_values(["layer", "seed"]).reset_index(drop=True)


def figures(run) -> list:
    """Pieces against parameters, equal-budget errors, the shallow sweep, the fits."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Chart, Figure, Series

    df = run.measurements()
    cfg = run.config
    cons = df[df["lens"] == "construction"].pivot_table(index="step", columns="metric",
                                                         values="value")
    fig1 = MplFigure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig1.subplots()
    ax.plot(cons["params"], cons["pieces"], "o-", label="constructed deep net (width 2, depth L)")
    m = cons["shallow_units_needed"]
    ax.plot(3 * m + 1, cons["pieces"], "s--", label="shallow net with as many pieces (m = 2^L - 1)")
    ax.set_xscale("log")
    ax.set_yscale("log", base=2)
    ax.set_xlabel("parameters")
    ax.set_ylabel("linear pieces on [0, 1] (exact)")
    ax.legend(fontsize=8)
    chart1 = Chart(x_label="parameters", y_label="log2(pieces)", log_x=True, log_color=False,
                   series=[Series(name="constructed deep net", x=cons["params"].tolist(),
                                  y=np.log2(cons["pieces"]).tolist(),
                                  hover=[f"L={L} · {int(p)} params · {int(q)} pieces"
                                         for L, p, q in zip(cons.index, cons["params"],
                                                            cons["pieces"])])])
    budget = _table(df, "budget")
    sweep = _table(df, "sweep")
    fig2 = MplFigure(figsize=(11, 4), layout="constrained")
    ax_b, ax_s = fig2.subplots(1, 2)
    names = list(budget["layer"].cat.categories)
    for j, name in enumerate(names):
        part = budget[budget["layer"] == name]
        colour = "C0" if name.startswith("deep") else "C1"
        ax_b.scatter(np.full(len(part), j), part["l1_error"], color=colour)
        ax_b.plot([j - 0.3, j + 0.3], [part["l1_error"].min()] * 2, color=colour)
    ax_b.set_xticks(range(len(names)), names, rotation=30, ha="right", fontsize=8)
    ax_b.set_ylabel("L1 error to the sawtooth (per seed; bar: best)")
    ax_b.set_title(f"equal budgets, target L={cfg.get('target_depth')}", fontsize=10)
    agg = sweep.groupby("layer", observed=True).agg(width=("params", "first"),
                                                    best=("l1_error", "min"),
                                                    mean=("l1_error", "mean"),
                                                    pieces=("pieces", "max"))
    widths = [int(str(n).split()[1]) for n in agg.index]
    ax_s.plot(widths, agg["mean"], "o-", label="mean over seeds")
    ax_s.plot(widths, agg["best"], "s--", label="best seed")
    need = 2 ** cfg.get("target_depth", 3) - 1
    ax_s.axvline(need, color="grey", ls=":", label=f"m = 2^L - 1 = {need}")
    ax_s.set_xscale("log", base=2)
    ax_s.set_xlabel("shallow width m")
    ax_s.set_ylabel("L1 error")
    ax_s.legend(fontsize=8)
    fits = df[df["lens"] == "fit"]
    fig3 = MplFigure(figsize=(11, 3.6), layout="constrained")
    ax_f = fig3.subplots()
    xs = np.linspace(0, 1, _FIT_POINTS)
    for name, part in fits.groupby("layer", sort=False):
        style = dict(color="k", lw=2.5, alpha=0.4) if name == "target" else dict(lw=1)
        if name == "target" or str(name) in names:
            ax_f.plot(xs, part.sort_values("step")["value"], label=str(name), **style)
    ax_f.set_xlabel("x")
    ax_f.legend(fontsize=7, ncol=4)
    return [
        Figure(name="pieces", title="Pieces against parameters: deep constructions vs shallow",
               caption="Exact piece counts of Telgarsky's constructions (2^L pieces from "
                       "6L+1 parameters) against the shallow net that would match them.",
               image=fig1, chart=chart1),
        Figure(name="trained", title="Trained nets: equal budgets and the shallow sweep",
               caption="L1 error of trained deep-narrow and shallow-wide nets with the "
                       "same parameter count (left) and of shallow nets against width "
                       "(right).", image=fig2),
        Figure(name="fits", title="What the trained nets compute (first seed)",
               caption="The sawtooth target and the equal-budget nets' outputs.", image=fig3),
    ]


def summary_table(run) -> pd.DataFrame:
    """Per trained architecture: parameters, L1 error (mean, best) and exact pieces."""
    df = run.measurements()
    rows = []
    cons = df[df["lens"] == "construction"].pivot_table(index="step", columns="metric",
                                                         values="value")
    for depth, row in cons.iterrows():
        if depth <= 6 or depth == cons.index.max():
            rows.append({"net": f"constructed L={depth} (vs its own sawtooth)",
                         "params": int(row["params"]), "L1 error mean": row["l1_error"],
                         "L1 error best": row["l1_error"], "pieces": str(int(row["pieces"]))})
    for lens in ("budget", "sweep"):
        table = _table(df, lens)
        for name, part in table.groupby("layer", observed=True, sort=False):
            rows.append({"net": str(name), "params": int(part["params"].iloc[0]),
                         "L1 error mean": round(float(part["l1_error"].mean()), 4),
                         "L1 error best": round(float(part["l1_error"].min()), 4),
                         "pieces": f"{int(part['pieces'].min())}-{int(part['pieces'].max())}"})
    return pd.DataFrame(rows)


register(Study(
    name="depth-separation",
    summary="Telgarsky's sawtooth: exact 2^L pieces; deep-narrow vs shallow-wide nets "
            "trained at equal parameter budgets",
    paper="M. Telgarsky 2016, arXiv 1602.04485",
    config_cls=DepthSeparationConfig,
    run=run,
    figures=figures,
    summary_table=summary_table,
))
