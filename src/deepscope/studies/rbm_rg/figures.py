"""Figures of ``rbm-rg``: receptive fields, block spins, locality against depth."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["make_figures"]


def make_figures(run, table: pd.DataFrame) -> list:
    """The report's figures."""
    from matplotlib.figure import Figure as MplFigure

    from deepscope.report import Figure

    df = run.measurements()
    seed0 = int(df.seed.min()) if len(df) else 0
    fields = df[(df.lens == "field") & (df.seed == seed0)]
    configs = df[(df.lens == "config") & (df.seed == seed0)]
    out = []
    layers = sorted(set(fields.layer))
    if layers:
        n_cols = 1 + max(int(m[4:]) for m in fields.metric.unique()) + 1
        fig = MplFigure(figsize=(1.6 * n_cols, 1.7 * len(layers) + 0.3), layout="constrained")
        axes = np.atleast_2d(fig.subplots(len(layers), n_cols))
        for i, layer in enumerate(layers):
            level = configs[configs.layer == f"level{i + 1}"].sort_values("step")["value"]
            side = int(round(np.sqrt(level.size)))
            axes[i, 0].imshow(level.to_numpy().reshape(side, side), cmap="gray",
                              vmin=-1, vmax=1)
            axes[i, 0].set_title(f"block spins b={table['block b'][i]}" if len(table) > i
                                 else "block spins", fontsize=7)
            part = fields[fields.layer == layer]
            for j in range(n_cols - 1):
                ax = axes[i, j + 1]
                f = part[part.metric == f"unit{j}"].sort_values("step")["value"].to_numpy()
                if f.size:
                    side = int(round(np.sqrt(f.size)))
                    lim = float(np.abs(f).max()) or 1.0
                    ax.imshow(f.reshape(side, side), cmap="RdBu_r", vmin=-lim, vmax=lim)
                    ax.set_title(f"{layer} unit", fontsize=7)
                else:
                    ax.set_axis_off()
            for ax in axes[i]:
                ax.set_xticks([])
                ax.set_yticks([])
        out.append(Figure(
            name="receptive_fields", title="Receptive fields against block spins",
            caption="Left column: the majority block spins of one critical configuration at the "
                    "block size matching each layer. Then the strongest receptive fields "
                    "W_1...W_k of each layer (red positive, blue negative).",
            image=fig))
    if not table.empty:
        fig = MplFigure(figsize=(10, 3.6), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
        d = table["layer"]
        for col, style, label in (("gyration_radius (RBM)", "o-", "RBM (median)"),
                                  ("gyration_radius_q25 (RBM)", "o:", "RBM (first quartile)"),
                                  ("gyration_radius (block spin)", "s--", "block spin"),
                                  ("gyration_radius (magnetisation)", ":", "whole lattice")):
            ax1.plot(d, table[col], style, label=label)
        ax1.set_xlabel("layer")
        ax1.set_ylabel("radius of gyration (sites)")
        ax1.legend(fontsize=8)
        for col, style, label in (("block_mass (RBM)", "o-", "RBM: mass in best b×b block"),
                                  ("block_mass (magnetisation)", ":", "uniform field"),
                                  ("block_corr (RBM)", "^-", "RBM: max |corr| with a block spin"),
                                  ("block_corr (magnetisation)", "v:", "m: max |corr| with a "
                                                                       "block spin")):
            ax2.plot(d, table[col], style, label=label)
        ax2.set_xlabel("layer")
        ax2.set_ylim(0, 1.05)
        ax2.legend(fontsize=7)
        out.append(Figure(
            name="locality", title="Locality against depth",
            caption="Medians over units. A block-spin layer has radius 0.71, 1.58, 3.24 for "
                    "b = 2, 4, 8 and all its mass in one b×b block.",
            image=fig))
    return out
