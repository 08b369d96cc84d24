"""Two-dimensional maps of a representation: PCA, t-SNE (scikit-learn) or UMAP (umap-learn)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import DeepscopeError, check_choice, check_float, param_error
from deepscope.lenses.representations._checks import as_matrix

__all__ = ["Embedding", "embed"]


@dataclass(frozen=True, eq=False)
class Embedding:
    """A 2-D map of ``n`` points.

    Attributes:
        lens: ``"representations.embed"``.
        coords: ``(n, 2)`` array.
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        explained_variance: PCA: share of the variance of each axis (None otherwise).
        perplexity: t-SNE perplexity (None otherwise).
        seed: Seed of t-SNE / UMAP (PCA is deterministic up to the axes' signs, fixed so the
            largest-magnitude loading of each axis is positive).
    """

    lens: str
    coords: np.ndarray
    method: str
    explained_variance: tuple[float, float] | None
    perplexity: float | None
    seed: int | None

    def to_frame(self):
        """One row per point: ``index, x, y``."""
        import pandas as pd

        return pd.DataFrame({"index": np.arange(len(self.coords)), "x": self.coords[:, 0],
                             "y": self.coords[:, 1]})

    def tidy(self):
        """``layer='x', index, metric ('x' or 'y'), value``, two rows per point."""
        df = self.to_frame().melt(id_vars="index", var_name="metric", value_name="value")
        df.insert(0, "layer", "x")
        return df


def _pca(x: torch.Tensor) -> tuple[np.ndarray, tuple[float, float]]:
    xc = x - x.mean(dim=0, keepdim=True)
    u, s, vh = torch.linalg.svd(xc, full_matrices=False)
    k = min(2, s.numel())
    coords = u[:, :k] * s[:k]
    for j in range(k):
        lead = vh[j, torch.argmax(vh[j].abs())]
        if lead < 0:
            coords[:, j] = -coords[:, j]
    total = float((s * s).sum()) or 1.0
    ev = [float(s[j] ** 2) / total for j in range(k)]
    out = np.zeros((x.shape[0], 2))
    out[:, :k] = coords.cpu().numpy()
    return out, (ev + [0.0, 0.0])[:2]


def embed(acts: Any, *, method: str = "pca", perplexity: float = 30.0,
          seed: int = 0) -> Embedding:
    """A 2-D map of a representation for plotting.

    ``"pca"`` projects on the top two principal axes (float64 SVD on the tensor's device);
    ``"tsne"`` runs scikit-learn's ``TSNE`` (PCA initialisation, ``random_state=seed``) on
    the CPU; ``"umap"`` runs ``umap.UMAP`` if umap-learn is installed.

    Args:
        acts: Representation ``(n, ...)`` (flattened per example).
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        perplexity: t-SNE perplexity, in (0, n).
        seed: Random state of t-SNE / UMAP.

    Returns:
        An :class:`Embedding`.

    Raises:
        DeepscopeError: ``"umap"`` without umap-learn installed.

    Example:
        >>> import torch
        >>> embed(torch.randn(30, 5)).coords.shape
        (30, 2)
    """
    func = "embed"
    check_choice(method, "method", func, ("pca", "tsne", "umap"))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise param_error("seed", func, "a non-negative int", seed)
    x = as_matrix(acts, "acts", func, min_rows=3, dtype=torch.float64)
    n = x.shape[0]
    if method == "pca":
        coords, ev = _pca(x)
        return Embedding(lens="representations.embed", coords=coords, method="pca",
                         explained_variance=tuple(ev), perplexity=None, seed=None)
    arr = x.cpu().numpy()
    if method == "tsne":
        perp = check_float(perplexity, "perplexity", func, low=0.0, high=float(n),
                           closed="neither")
        from sklearn.manifold import TSNE

        coords = TSNE(n_components=2, perplexity=perp, init="pca", random_state=int(seed),
                      learning_rate="auto").fit_transform(arr)
        return Embedding(lens="representations.embed", coords=np.asarray(coords, np.float64),
                         method="tsne", explained_variance=None, perplexity=perp,
                         seed=int(seed))
    try:
        import umap
    except ImportError as exc:
        raise DeepscopeError("embed(method='umap') needs umap-learn: pip install umap-learn "
                             "(or use method='tsne' or 'pca').") from exc
    coords = umap.UMAP(n_components=2, random_state=int(seed)).fit_transform(arr)
    return Embedding(lens="representations.embed", coords=np.asarray(coords, np.float64),
                     method="umap", explained_variance=None, perplexity=None,
                     seed=int(seed))
