"""Report of the ``layer-representations`` study: tables and figures (private)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from deepscope.studies.layer_representations.work import CONDITIONS, NETS, SEP

_COND_COLORS = {"true": "tab:blue", "random": "tab:red", "untrained": "tab:gray"}


def frame(run) -> pd.DataFrame:
    """The measurements with ``net, condition, name`` split out of ``layer``."""
    df = run.measurements()
    parts = df["layer"].str.split(SEP, n=2, expand=True)
    df = df.assign(net=parts[0], condition=parts[1], name=parts[2])
    return df


def _order(values, ref):
    return [v for v in ref if v in set(values)]


def _layers(df: pd.DataFrame, net: str) -> list[str]:
    part = df[(df.net == net) & (df.lens == "intrinsic_dimension")]
    return list(dict.fromkeys(part["name"]))


def _mean(df: pd.DataFrame, lens: str, metric: str) -> pd.DataFrame:
    part = df[(df.lens == lens) & (df.metric == metric)]
    return part.groupby(["net", "condition", "name"], sort=False)["value"].mean().reset_index()


def summary_table(run) -> pd.DataFrame:
    """Per network and condition (means over seeds): accuracies, then at the last hidden
    layer the intrinsic dimension, probe accuracy, cross-seed CKA and shift sensitivity."""
    df = frame(run)
    rows = []
    for net in _order(df.net, NETS):
        layers = _layers(df, net)
        last = layers[-2] if len(layers) >= 2 else layers[-1]
        for cond in _order(df[df.net == net].condition, CONDITIONS):
            sel = df[(df.net == net) & (df.condition == cond)]

            def val(lens, metric, name=last, sel=sel):
                v = sel[(sel.lens == lens) & (sel.metric == metric) & (sel.name == name)]
                return float(v.value.mean()) if len(v) else float("nan")

            ids = sel[(sel.lens == "intrinsic_dimension") & (sel.metric == "id")]
            peak = ids.groupby("name", sort=False)["value"].mean()
            rows.append({
                "net": net, "labels": cond,
                "train acc": val("training", "train_accuracy", ""),
                "test acc": val("training", "test_accuracy", ""),
                "last hidden": last,
                "ID last hidden": val("intrinsic_dimension", "id"),
                "ID peak": float(peak.max()) if len(peak) else float("nan"),
                "ID peak layer": str(peak.idxmax()) if len(peak) else "",
                "probe acc": val("probe", "accuracy"),
                "selectivity": val("probe", "selectivity"),
                "CKA across seeds": val("cka_seeds", f"cka@{last}"),
                "shift sensitivity": val("invariance", "sensitivity_shift"),
                "I(X;T) bits": val("information", "i_xt"),
                "I(T;Y) bits": val("information", "i_ty"),
            })
    return pd.DataFrame(rows)


def _cka_objects(run, df: pd.DataFrame, lens: str, net: str, cond: str, seed=None):
    from deepscope.lenses.representations import CKAMatrix

    part = df[(df.lens == lens) & (df.net == net) & (df.condition == cond)]
    if seed is not None:
        part = part[part.seed == seed]
    if not len(part):
        return None
    layers = _layers(df, net)
    vals = np.full((len(layers), len(layers)), np.nan)
    g = part.groupby(["name", "metric"])["value"].mean()
    for i, a in enumerate(layers):
        for j, b in enumerate(layers):
            if (a, f"cka@{b}") in g.index:
                vals[i, j] = g[(a, f"cka@{b}")]
    return CKAMatrix(lens="representations.cka_matrix", values=vals, layers_a=tuple(layers),
                     layers_b=tuple(layers), n=int(run.config.get("n_measure", 1797)),
                     debiased=False, same_model=lens == "cka")


def cka_figure(run, df: pd.DataFrame, lens: str = "cka"):
    """Heat maps, one per network (rows) and condition (columns)."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.plots import plot_cka_matrix

    nets = _order(df.net, NETS)
    conds = _order(df.condition, CONDITIONS)
    fig = MplFigure(figsize=(3.6 * len(conds), 3.2 * len(nets)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(nets), len(conds), squeeze=False))
    seed0 = int(df.seed.min())
    for r, net in enumerate(nets):
        for c, cond in enumerate(conds):
            ax = axes[r, c]
            m = _cka_objects(run, df, lens, net, cond, seed0 if lens == "cka" else None)
            if m is None:
                ax.set_axis_off()
                ax.text(0.5, 0.5, "needs seeds >= 2", ha="center", transform=ax.transAxes)
                continue
            plot_cka_matrix(m, ax=ax, colorbar=False)
            ax.set_title(f"{net}, untrained" if cond == "untrained"
                         else f"{net}, {cond} labels", fontsize=9)
            if lens == "cka_seeds":
                ax.set_xlabel("seed s", fontsize=8)
                ax.set_ylabel(f"seed {seed0}", fontsize=8)
    return fig


def _profile_axes(df: pd.DataFrame, lens: str, metrics, ylabel: str, title: str,
                  band: tuple[str, str] | None = None, styles=("o-",)):
    from matplotlib.figure import Figure as MplFigure

    nets = _order(df.net, NETS)
    fig = MplFigure(figsize=(5.0 * len(nets), 3.6), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, len(nets), squeeze=False)[0])
    for ax, net in zip(axes, nets):
        layers = _layers(df, net)
        if lens == "invariance" or lens == "information":
            layers = layers[1:]
        pos = {name: i for i, name in enumerate(layers)}
        for cond in _order(df[df.net == net].condition, CONDITIONS):
            for metric, style in zip(metrics, styles):
                m = _mean(df[(df.net == net) & (df.condition == cond)], lens, metric)
                m = m[m.name.isin(pos)]
                xs = [pos[v] for v in m.name]
                label = cond if len(metrics) == 1 else f"{cond}: {metric}"
                ax.plot(xs, m.value, style, color=_COND_COLORS[cond], label=label)
                if band is not None:
                    lo = _mean(df[(df.net == net) & (df.condition == cond)], lens, band[0])
                    hi = _mean(df[(df.net == net) & (df.condition == cond)], lens, band[1])
                    lo, hi = lo[lo.name.isin(pos)], hi[hi.name.isin(pos)]
                    ax.fill_between(xs, lo.value, hi.value, color=_COND_COLORS[cond],
                                    alpha=0.15)
        ax.set_xticks(range(len(layers)), layers, rotation=30, ha="right", fontsize=8)
        ax.set_title(f"{net}: {title}", fontsize=10)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    return fig


def figures(run) -> list:
    """CKA heat maps (within a net and across seeds), ID profile, probes, invariance,
    information-plane numbers."""
    from deepscope.report import Figure

    df = frame(run)
    seeds = sorted(df.seed.unique())
    out = [
        Figure(name="cka_layers", title="Linear CKA between layers",
               caption=f"Linear CKA of every pair of layers of one network (seed {seeds[0]}) "
                       "on the measured digits. Rows: networks; columns: label conditions.",
               image=cka_figure(run, df, "cka")),
    ]
    if (df.lens == "cka_seeds").any():
        out.append(Figure(
            name="cka_seeds", title="Linear CKA across seeds",
            caption=f"CKA between the layers of seed {seeds[0]} (rows) and of the other seeds "
                    "(columns, mean over seeds). A bright diagonal: a layer matches the same "
                    "layer of another training run.",
            image=cka_figure(run, df, "cka_seeds")))
    out += [
        Figure(name="intrinsic_dimension", title="Intrinsic dimension across layers",
               caption="TwoNN intrinsic dimension of each layer (mean over seeds; band: mean "
                       "of the bootstrap 95% intervals). Ansuini et al. (2019): it rises then "
                       "falls, and the last hidden layer is lower-dimensional with true labels.",
               image=_profile_axes(df, "intrinsic_dimension", ["id"], "intrinsic dimension",
                                   "TwoNN ID", band=("id_low", "id_high"))),
        Figure(name="probes", title="Linear probes for the digit",
               caption="Held-out accuracy of a ridge probe for the true digit (solid) and "
                       "selectivity against a control task with random labels per image "
                       "(dashed).",
               image=_profile_axes(df, "probe", ["accuracy", "selectivity"], "accuracy",
                                   "probe", styles=("o-", "s--"))),
        Figure(name="invariance", title="Invariance per layer",
               caption="Sensitivity E|f(t(x)) - f(x)|² / E|f(x) - f(x')|² to one-pixel shifts "
                       "(solid) and to Gaussian input noise (dashed): 0 is invariant, 1 moves "
                       "as far as a different image.",
               image=_profile_axes(df, "invariance", ["sensitivity_shift", "sensitivity_noise"],
                                   "sensitivity", "invariance", styles=("o-", "s--"))),
        Figure(name="information", title="Information-plane numbers of the same layers",
               caption="I(X;T) (solid) and I(T;Y) (dashed) in bits: KDE upper bound "
                       "(Kolchinsky & Tracey 2017) with Gaussian noise on each layer scaled to "
                       "unit variance per coordinate, on the same images: the information "
                       "view of what each layer keeps, beside the geometric one above.",
               image=_profile_axes(df, "information", ["i_xt", "i_ty"], "bits",
                                   "information plane", styles=("o-", "s--"))),
    ]
    return out
