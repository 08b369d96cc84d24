"""Linear probes per layer, with a control task and its selectivity.

A linear probe (Alain & Bengio 2016, arXiv 1610.01644) is a linear classifier trained on a
layer's features; its held-out accuracy says how linearly decodable the labels are there.
A control task (Hewitt & Liang 2019, arXiv 1909.03368) gives every input *type* a random
label drawn from the empirical label distribution and trains the same probe on it:
``selectivity = accuracy - control_accuracy`` separates what the representation encodes
from what the probe can memorise.

Two probes: ``"ridge"``, closed-form ridge regression on one-hot targets (all penalties from
one SVD), and ``"logistic"``, multinomial logistic regression by full-batch L-BFGS. Features
are standardised with the training split's mean and standard deviation; the penalty is the
one with the best accuracy on the validation split, and the probe is refitted on train and
validation before it is scored on the test split.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from deepscope.errors import check_choice, check_float, param_error
from deepscope.lenses.representations._checks import as_matrix
from deepscope.seeding import make_generator

__all__ = ["ProbeResult", "linear_probe"]

_RIDGE_GRID = tuple(10.0 ** e for e in range(-8, 1))
_LOGISTIC_GRID = (1e-5, 1e-4, 1e-3, 1e-2, 1e-1)


@dataclass(frozen=True, eq=False)
class ProbeResult:
    """Linear-probe accuracies per layer.

    Attributes:
        lens: ``"representations.linear_probe"``.
        layers: Names of the feature sets (``"x"`` for a single tensor).
        accuracy: Test accuracy per layer.
        control_accuracy: Test accuracy of the same probe on the control task (NaN without).
        selectivity: ``accuracy - control_accuracy``.
        train_accuracy: Accuracy on the train + validation data it was refitted on.
        penalty: The chosen penalty per layer (relative ridge ``lambda / s_max^2``, or the
            logistic weight decay).
        chance: Share of the most frequent class in the test split.
        method: ``"ridge"`` or ``"logistic"``.
        n_train, n_val, n_test: Split sizes.
        n_classes: Number of classes.
        seed: Seed of the split and the control labels (None for a generator).
    """

    lens: str
    layers: tuple[str, ...]
    accuracy: np.ndarray
    control_accuracy: np.ndarray
    selectivity: np.ndarray
    train_accuracy: np.ndarray
    penalty: np.ndarray
    chance: float
    method: str
    n_train: int
    n_val: int
    n_test: int
    n_classes: int
    seed: int | None

    def to_frame(self):
        """One row per layer: ``layer, accuracy, control_accuracy, selectivity,
        train_accuracy, penalty``."""
        import pandas as pd

        return pd.DataFrame({"layer": list(self.layers), "accuracy": self.accuracy,
                             "control_accuracy": self.control_accuracy,
                             "selectivity": self.selectivity,
                             "train_accuracy": self.train_accuracy, "penalty": self.penalty})

    def tidy(self):
        """``layer, metric, value`` (accuracy, control_accuracy, selectivity, train_accuracy)."""
        df = self.to_frame().drop(columns="penalty")
        return df.melt(id_vars="layer", var_name="metric", value_name="value")


def _standardize(xtr: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    mu = xtr.mean(dim=0, keepdim=True)
    sd = xtr.std(dim=0, keepdim=True).clamp_min(1e-12)
    return [(t - mu) / sd for t in (xtr, *others)]


def _ridge_fit(x: torch.Tensor, y1h: torch.Tensor):
    """SVD pieces of a centred ridge problem; ``predict(lam_rel, z)`` scores new rows."""
    ym = y1h.mean(dim=0, keepdim=True)
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    uty = u.T @ (y1h - ym)
    smax2 = float(s[0] ** 2) if s.numel() else 1.0

    def predict(lam_rel: float, z: torch.Tensor) -> torch.Tensor:
        w = vh.T @ ((s / (s * s + lam_rel * smax2))[:, None] * uty)
        return z @ w + ym

    return predict


def _logistic_fit(x: torch.Tensor, y: torch.Tensor, n_classes: int, decay: float,
                  max_iter: int = 200):
    w = torch.zeros(x.shape[1], n_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    b = torch.zeros(n_classes, dtype=x.dtype, device=x.device, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, history_size=20,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-9,
                            tolerance_change=1e-12)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + decay * (w * w).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    w, b = w.detach(), b.detach()
    return lambda z: z @ w + b


def _probe(x, y, split, n_classes, method):
    """Accuracy on test, on the fit data, and the chosen penalty, for one feature set."""
    tr, va, te = split
    fit_idx = torch.cat([tr, va])
    acc = lambda scores, idx: float((scores.argmax(dim=1) == y[idx]).double().mean())  # noqa: E731
    if method == "ridge":
        xtr, xva = _standardize(x[tr], x[va])
        onehot = torch.nn.functional.one_hot(y, n_classes).to(x.dtype)
        pred = _ridge_fit(xtr, onehot[tr])
        scores = [acc(pred(lam, xva), va) for lam in _RIDGE_GRID]
        best = _RIDGE_GRID[int(np.flatnonzero(np.asarray(scores) == max(scores))[-1])]
        xfit, xte = _standardize(x[fit_idx], x[te])
        pred = _ridge_fit(xfit, onehot[fit_idx])
        return acc(pred(best, xte), te), acc(pred(best, xfit), fit_idx), best
    xtr, xva = _standardize(x[tr], x[va])
    scores = [acc(_logistic_fit(xtr, y[tr], n_classes, d)(xva), va) for d in _LOGISTIC_GRID]
    best = _LOGISTIC_GRID[int(np.flatnonzero(np.asarray(scores) == max(scores))[-1])]
    xfit, xte = _standardize(x[fit_idx], x[te])
    model = _logistic_fit(xfit, y[fit_idx], n_classes, best)
    return acc(model(xte), te), acc(model(xfit), fit_idx), best


def _labels(labels: Any, n: int) -> torch.Tensor:
    if isinstance(labels, np.ndarray):
        labels = torch.from_numpy(labels)
    if not isinstance(labels, torch.Tensor) or labels.is_floating_point() or labels.ndim != 1:
        raise param_error("labels", "linear_probe", "a 1-D integer tensor of class labels",
                          type(labels).__name__ if not isinstance(labels, torch.Tensor)
                          else f"a {labels.ndim}-D {labels.dtype} tensor", type_error=True)
    if labels.shape[0] != n:
        raise param_error("labels", "linear_probe", f"{n} labels, one per row of features",
                          f"{labels.shape[0]} labels")
    if labels.numel() and int(labels.min()) < 0:
        raise param_error("labels", "linear_probe", "non-negative class labels",
                          int(labels.min()))
    return labels.long()


def _control_labels(y: torch.Tensor, types: Any, gen: torch.Generator) -> torch.Tensor:
    n = y.shape[0]
    if types is None:
        inverse = torch.arange(n)
        n_types = n
    else:
        t = torch.as_tensor(types)
        if t.ndim != 1 or t.shape[0] != n:
            raise param_error("types", "linear_probe", f"None or {n} input-type ids",
                              tuple(t.shape))
        _, inverse = torch.unique(t.cpu(), return_inverse=True)
        n_types = int(inverse.max()) + 1
    draw = torch.randint(0, n, (n_types,), generator=gen)
    return y.cpu()[draw][inverse].to(y.device)


def linear_probe(features: Any, labels: Any, *, method: str = "ridge", control: bool = True,
                 types: Any = None, val_fraction: float = 0.2, test_fraction: float = 0.2,
                 seed: int | torch.Generator = 0) -> ProbeResult:
    """Held-out accuracy of a linear probe on each feature set, with a control task.

    Args:
        features: A tensor ``(n, ...)`` or a mapping ``layer name -> tensor (n, ...)`` of
            the same ``n`` inputs (flattened per input; computed in float64).
        labels: Integer class labels ``(n,)``.
        method: ``"ridge"`` (closed form) or ``"logistic"`` (L-BFGS).
        control: Also fit the control task and report selectivity.
        types: Input-type ids ``(n,)`` sharing one control label each (Hewitt & Liang's word
            types; e.g. the source image of augmented copies). None: every input is its own
            type, so control accuracy on held-out inputs is chance.
        val_fraction: Share of inputs used to choose the penalty.
        test_fraction: Share of inputs held out for the reported accuracy.
        seed: Seed (or ``torch.Generator``) of the split and the control labels.

    Returns:
        A :class:`ProbeResult` (one entry per feature set).

    Raises:
        DeepscopeValueError: Mismatched sizes, fewer than 2 classes, empty splits.

    Example:
        >>> import torch
        >>> y = torch.arange(300) % 3
        >>> noise = torch.randn(300, 3, dtype=torch.float64)
        >>> x = torch.nn.functional.one_hot(y).double() * 5 + noise
        >>> float(linear_probe(x, y).accuracy[0])
        1.0
    """
    func = "linear_probe"
    check_choice(method, "method", func, ("ridge", "logistic"))
    if not isinstance(control, bool):
        raise param_error("control", func, "a bool", control, type_error=True)
    vf = check_float(val_fraction, "val_fraction", func, low=0.0, high=1.0, closed="neither")
    tf = check_float(test_fraction, "test_fraction", func, low=0.0, high=1.0, closed="neither")
    if vf + tf >= 1.0:
        raise param_error("test_fraction", func, f"less than 1 - val_fraction ({1 - vf:g})", tf)
    gen, seed_int = make_generator(seed, "seed", func)
    named = features.items() if isinstance(features, Mapping) else [("x", features)]
    mats = {str(k): as_matrix(v, "features", func, min_rows=3, dtype=torch.float64)
            for k, v in named}
    if not mats:
        raise param_error("features", func, "a tensor or a non-empty mapping of tensors", {})
    n = next(iter(mats.values())).shape[0]
    for name, m in mats.items():
        if m.shape[0] != n:
            raise param_error("features", func, f"tensors with the same number of rows ({n})",
                              f"{m.shape[0]} rows in {name!r}")
    device = next(iter(mats.values())).device
    y = _labels(labels, n).to(device)
    n_classes = int(y.max()) + 1
    if int(torch.unique(y).numel()) < 2:
        raise param_error("labels", func, "labels of at least 2 classes", "one class")
    perm = torch.randperm(n, generator=gen).to(device)
    n_te, n_va = max(1, round(tf * n)), max(1, round(vf * n))
    if n - n_te - n_va < 2:
        raise param_error("features", func, "enough rows for train, validation and test splits",
                          f"{n} rows")
    split = (perm[n_te + n_va:], perm[n_te:n_te + n_va], perm[:n_te])
    y_ctrl = _control_labels(y, types, gen) if control else None
    rows = []
    for x in mats.values():
        a, t, p = _probe(x, y, split, n_classes, method)
        c = _probe(x, y_ctrl, split, n_classes, method)[0] if control else float("nan")
        rows.append((a, c, a - c, t, p))
    arr = np.asarray(rows, dtype=np.float64)
    chance = float(torch.bincount(y[split[2]], minlength=n_classes).max()) / n_te
    return ProbeResult(lens="representations.linear_probe", layers=tuple(mats),
                       accuracy=arr[:, 0], control_accuracy=arr[:, 1], selectivity=arr[:, 2],
                       train_accuracy=arr[:, 3], penalty=arr[:, 4], chance=chance,
                       method=method, n_train=int(split[0].numel()),
                       n_val=int(split[1].numel()), n_test=n_te, n_classes=n_classes,
                       seed=seed_int)
