"""Weight-matrix spectra: random-matrix theory and heavy-tailed self-regularisation.

The eigenvalue spectrum (ESD) of ``W^T W`` of each weight matrix is a data-free probe of
what a layer has learned (Martin & Mahoney, "Implicit self-regularization in deep neural
networks", JMLR 2021, arXiv 1810.01075; "Predicting trends in the quality of
state-of-the-art neural networks without access to training or testing data", Nature
Communications 2021, arXiv 2002.06716). Random weights follow the Marchenko-Pastur (MP)
law; training grows a heavy power-law tail :math:`\\rho(\\lambda) \\sim \\lambda^{-\\alpha}`
whose exponent falls from large values toward 2-4 in well-trained layers.

* :func:`weight_matrices`: the named 2-D matrices of a model (conv layers as kernel slices).
* :func:`esd`: eigenvalues of ``W^T W`` (squared singular values), batched eigensolves of
  the smaller Gram matrix on the weights' device.
* :func:`fit_power_law`: continuous power-law MLE with the Clauset-Shalizi-Newman choice
  of ``xmin`` (Clauset, Shalizi & Newman 2009, arXiv 0706.1062), vectorised over all
  candidate ``xmin``.
* :func:`fit_marchenko_pastur`: bulk scale, bulk edge, spikes, MP soft rank.
* :func:`analyze_weights`: all of it for every matrix of a model, one row per matrix.

Conventions follow WeightWatcher 0.7.7 and the ``powerlaw`` package so that numbers can be
compared (see each function); deviations are documented where they are made.
"""

from __future__ import annotations

import math

from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import DeepscopeValueError, check_choice, check_float, check_int, \
    param_error
from deepscope.lenses.spectra import fit as _fit
from deepscope.seeding import make_generator, spawn
from deepscope.lenses._model import check_model
from deepscope.lenses.spectra import matrices as _mat
from deepscope.lenses.spectra.matrices import WeightMatrix
from deepscope.lenses.spectra.results import (MarchenkoPasturFit, PowerLawFit,
                                              WeightSpectra, js_distance)


_CONV = ("slices", "reshape")


def weight_matrices(model: nn.Module, *, conv: str = "slices") -> list[WeightMatrix]:
    """The weight matrices of ``model`` as named ``N x M`` matrices, ``N >= M``.

    Linear layers, ``transformers``' ``Conv1D`` (stored ``(in, out)``), convolutions (1-,
    2-, 3-D, transposed), embeddings, the packed q/k/v input projection of
    :class:`torch.nn.MultiheadAttention` (its output projection is a Linear layer of its
    own) and any other module's 2-D ``weight`` (``kind="other"``); a tied tensor once. A conv weight ``(out, in, kh, kw)`` becomes ``kh * kw`` slices
    ``W[:, :, i, j]`` of shape ``out x in`` whose eigenvalues are pooled, as WeightWatcher
    does (``conv="slices"``), or one ``out x (in kh kw)`` matrix (``conv="reshape"``).
    Slices are transposed where needed so that ``N >= M``.

    Args:
        model: any module; it is not modified (weights are detached views).
        conv: ``"slices"`` or ``"reshape"``.

    Returns:
        :class:`WeightMatrix` entries in ``named_modules()`` order.

    Raises:
        DeepscopeTypeError: ``model`` is not a module.
        DeepscopeValueError: unknown ``conv``.

    Example:
        >>> from deepscope.nets import SmallCNN
        >>> [(m.layer, m.n_slices, m.N, m.M) for m in weight_matrices(SmallCNN())][:2]
        [('conv1', 9, 8, 1), ('conv2', 9, 16, 8)]
    """
    func = "weight_matrices"
    check_model(model, func)
    check_choice(conv, "conv", func, _CONV)
    return _mat.collect(model, conv)


def _as_stack(w: Any, func: str) -> torch.Tensor:
    if isinstance(w, WeightMatrix):
        return w.weights
    if isinstance(w, np.ndarray):
        w = torch.from_numpy(w)
    if not isinstance(w, torch.Tensor) or not w.is_floating_point() or w.is_complex():
        raise param_error("w", func, "a real floating tensor (N, M) or (k, N, M), or a "
                          "WeightMatrix", type(w).__name__, type_error=True)
    if w.ndim not in (2, 3) or w.numel() == 0:
        raise param_error("w", func, "a non-empty tensor of shape (N, M) or (k, N, M)",
                          tuple(w.shape))
    w = w.detach()
    if not bool(torch.isfinite(w).all()):
        raise DeepscopeValueError(f"The weights given to {func} contain NaN or inf.")
    return _mat._tall(w if w.ndim == 3 else w[None])


def esd(w: Any, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    """Eigenvalues of ``W^T W``, the squared singular values of ``W``, ascending.

    .. math:: \\lambda_i = \\sigma_i(W)^2, \\quad i = 1..M, \\quad M = \\min(N, M)

    The symmetric eigensolver runs on the smaller ``M x M`` Gram matrix in ``dtype``
    (default: the weights' precision, at least float32). Forming the Gram matrix squares
    the condition number: in float32 eigenvalues below about ``1e-6 lambda_max`` carry
    large relative errors (the tail fit is not affected: on the benchmark nets alpha moves
    by < 1e-4); pass ``dtype=torch.float64`` for exact small eigenvalues. A stack
    ``(k, N, M)`` (e.g. conv slices) is solved in one batched call and the ``k M``
    eigenvalues are pooled.

    Args:
        w: ``(N, M)`` or ``(k, N, M)`` tensor or array, or a :class:`WeightMatrix`.
        dtype: floating dtype of the eigensolve (default: see above).

    Returns:
        1-D ascending tensor on ``w``'s device (round-off negatives clamped to 0).

    Raises:
        DeepscopeTypeError: ``w`` is not a real floating tensor.
        DeepscopeValueError: wrong shape, or NaN/inf weights.

    Example:
        >>> esd(torch.diag(torch.tensor([3.0, 1.0, 2.0]))).tolist()
        [1.0, 4.0, 9.0]
    """
    stack = _as_stack(w, "esd")
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise param_error("dtype", "esd", "torch.float32, torch.float64 or None", dtype)
    ev = _mat.batched_eigenvalues([stack], dtype)[0]
    return torch.sort(ev.reshape(-1)).values


def _values(eigenvalues: Any, func: str) -> torch.Tensor:
    if isinstance(eigenvalues, np.ndarray) or isinstance(eigenvalues, (list, tuple)):
        eigenvalues = torch.as_tensor(np.asarray(eigenvalues, dtype=np.float64))
    if not isinstance(eigenvalues, torch.Tensor) or eigenvalues.is_complex() or (
            eigenvalues.dtype == torch.bool):
        raise param_error("eigenvalues", func, "a 1-D real tensor or array",
                          type(eigenvalues).__name__, type_error=True)
    x = eigenvalues.detach().to(torch.float64).reshape(-1)
    if not bool(torch.isfinite(x).all()):
        raise DeepscopeValueError(f"The eigenvalues given to {func} contain NaN or inf.")
    return torch.sort(x).values


def _power_law(x: torch.Tensor, xmin: Any) -> PowerLawFit:
    """Fit on ascending float64 ``x`` (positive values only are used); NaN fit if too few."""
    x = x[x > 0]
    n = x.numel()
    if xmin == "search":
        if n < 2 or not bool(x[-1] > x[0]):
            return PowerLawFit.empty(n, True)
        c = _fit.power_law_candidates(x)
        best = int(torch.argmin(c["D"]))
        alpha, xm, D, nt = (float(c[k][best]) for k in ("alpha", "xmin", "D", "n_tail"))
        cand = {k: c[k].cpu().numpy() for k in ("xmin", "alpha", "D")}
    else:
        if int((x >= xmin).sum()) < 2:
            return PowerLawFit.empty(n, False, xmin=float(xmin))
        c = _fit.power_law_fixed(x, float(xmin))
        alpha, xm, D, nt = (float(c[k][0]) for k in ("alpha", "xmin", "D", "n_tail"))
        cand = {k: np.empty(0) for k in ("xmin", "alpha", "D")}
    return PowerLawFit(alpha=alpha, xmin=xm, D=D, n_tail=int(nt),
                       sigma=(alpha - 1.0) / math.sqrt(nt), n=n, xmin_searched=xmin == "search",
                       candidates_xmin=cand["xmin"], candidates_alpha=cand["alpha"],
                       candidates_D=cand["D"])


def fit_power_law(eigenvalues: Any, *, xmin: str | float = "search") -> PowerLawFit:
    """Continuous power-law fit of the tail of a spectrum (Clauset, Shalizi & Newman 2009).

    For a tail :math:`x_i \\ge x_{\\min}` of ``n`` values the MLE and its standard error are

    .. math:: \\hat\\alpha = 1 + n \\Big/ \\sum_i \\ln\\frac{x_i}{x_{\\min}}, \\qquad
              \\sigma = (\\hat\\alpha - 1)/\\sqrt{n}

    With ``xmin="search"`` every distinct value except the largest is a candidate and the
    one with the smallest Kolmogorov-Smirnov distance
    :math:`D = \\max |F_{\\text{fit}} - F_{\\text{emp}}|` wins (CSN, arXiv 0706.1062). All
    candidates are fitted at once from suffix sums of ``ln x``; the KS distances come from
    one masked (candidates x n) computation in chunks, on the values' device. The
    empirical CDF is evaluated at the tail's distinct values as the fraction of tail
    values strictly below, exactly as the ``powerlaw`` package (1.5) and WeightWatcher
    (0.7.7) do, so ``alpha``, ``xmin`` and ``D`` equal theirs. WeightWatcher switches to a
    bias-corrected variant for fewer than 20 values; deepscope does not.

    Args:
        eigenvalues: 1-D tensor or array; values ``<= 0`` are dropped (as ``powerlaw``).
        xmin: ``"search"`` or a fixed positive lower bound of the tail.

    Returns:
        A :class:`PowerLawFit` (``alpha``, ``xmin``, ``D``, ``n_tail``, ``sigma`` and the
        per-candidate curves).

    Raises:
        DeepscopeValueError: NaN/inf values, bad ``xmin``, or fewer than two distinct
            positive values (two tail values for a fixed ``xmin``).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = (1 - torch.rand(5000, generator=g, dtype=torch.float64)) ** (-1 / 1.5)
        >>> abs(fit_power_law(x).alpha - 2.5) < 0.1  # samples with alpha = 2.5
        True
    """
    func = "fit_power_law"
    if not (isinstance(xmin, str) and xmin == "search"):
        if isinstance(xmin, str):
            raise param_error("xmin", func, "'search' or a positive float", xmin)
        xmin = check_float(xmin, "xmin", func, low=0.0, closed="neither")
    x = _values(eigenvalues, func)
    fit = _power_law(x, xmin)
    if math.isnan(fit.alpha):
        raise DeepscopeValueError(
            f"fit_power_law needs at least two distinct positive values (two at or above "
            f"xmin); got {int((x > 0).sum())} positive values.")
    return fit


def _marchenko_pastur(x: torch.Tensor, q: float, m: int, bandwidth: float
                      ) -> MarchenkoPasturFit:
    if x.numel() < 2 or not bool(x[-1] > 0):
        nan = float("nan")
        return MarchenkoPasturFit(q=q, bulk_variance=nan, bulk_min=nan, bulk_max=nan,
                                  tw_margin=nan, n_spikes=0, mp_softrank=nan, sigma_mp=nan,
                                  lambda_max=float(x[-1]) if x.numel() else nan, m=m)
    r = _fit.marchenko_pastur(x, q, m, bandwidth)
    return MarchenkoPasturFit(q=q, bulk_variance=r["bulk_variance"], bulk_min=r["bulk_min"],
                              bulk_max=r["bulk_max"], tw_margin=r["tw_margin"],
                              n_spikes=r["n_spikes"], mp_softrank=r["mp_softrank"],
                              sigma_mp=r["sigma_mp"], lambda_max=float(x[-1]), m=m)


def fit_marchenko_pastur(eigenvalues: Any, q: float, *, m: int | None = None,
                         bandwidth: float = 0.1) -> MarchenkoPasturFit:
    """Fit the Marchenko-Pastur bulk of a spectrum; count the spikes above it.

    For ``W`` of ``N x M`` i.i.d. entries the eigenvalues of ``W^T W`` follow, as
    ``N, M -> inf`` with ``q = N/M``,

    .. math:: \\rho(\\lambda) = \\frac{q}{2\\pi\\sigma^2\\lambda}
              \\sqrt{(\\lambda_+ - \\lambda)(\\lambda - \\lambda_-)}, \\qquad
              \\lambda_\\pm = \\sigma^2 (1 \\pm 1/\\sqrt{q})^2

    (Marchenko & Pastur 1967; ``sigma^2 = N`` times the entry variance). The scale is
    fitted as WeightWatcher does: eigenvalues rescaled to mean 1, a linear-kernel density
    estimate (``bandwidth``) matched in least squares over a grid of scales, all scales
    at once (for ``q == 1`` the quarter-circle law of the singular values; WeightWatcher
    fixes its support at [0, 2], deepscope lets it scale with sigma). Spikes are the
    eigenvalues above :math:`\\lambda_+ + \\sqrt{q^{-1/2}\\lambda_+^{2/3} m^{-2/3}}`, in
    units of the mean eigenvalue (WeightWatcher's Tracy-Widom margin). The MP soft rank
    is :math:`\\lambda_+ / \\lambda_{\\max}` (Martin & Mahoney 2021, arXiv 1810.01075).

    Args:
        eigenvalues: 1-D tensor or array of the ``M`` (or pooled ``k M``) eigenvalues.
        q: aspect ratio ``N / M >= 1``.
        m: ``M``, the eigenvalues per matrix in the Tracy-Widom margin (default: all).
        bandwidth: kernel bandwidth, in units of the mean eigenvalue.

    Returns:
        A :class:`MarchenkoPasturFit` (``bulk_variance``, ``bulk_max`` = the bulk edge,
        ``n_spikes``, ``mp_softrank``, ...) in the units of ``eigenvalues``.

    Raises:
        DeepscopeValueError: bad ``q``, ``m`` or ``bandwidth``, NaN/inf or negative values,
            fewer than two values or all zero.

    Example:
        >>> w = torch.randn(1000, 500, dtype=torch.float64,
        ...                 generator=torch.Generator().manual_seed(0))
        >>> mp = fit_marchenko_pastur(esd(w), q=2.0)
        >>> mp.n_spikes, abs(mp.bulk_max / (1000 ** .5 + 500 ** .5) ** 2 - 1) < 0.02
        (0, True)
    """
    func = "fit_marchenko_pastur"
    q = check_float(q, "q", func, low=1.0)
    bandwidth = check_float(bandwidth, "bandwidth", func, low=0.0, closed="neither")
    x = _values(eigenvalues, func)
    if x.numel() < 2 or not bool(x[-1] > 0):
        raise DeepscopeValueError(
            f"fit_marchenko_pastur needs at least two eigenvalues, not all zero; got "
            f"{x.numel()}.")
    if bool(x[0] < -1e-9 * x[-1]):
        raise DeepscopeValueError(
            f"The eigenvalues given to {func} must be >= 0 (of W^T W). Got {float(x[0])!r}.")
    m = x.numel() if m is None else check_int(m, "m", func, low=1)
    return _marchenko_pastur(x.clamp_min(0.0), q, m, bandwidth)


def _norms(x: torch.Tensor, alpha: float) -> dict[str, float]:
    total = float(x.sum())
    lmax = float(x[-1])
    log_alpha = (float(torch.log10((x[x > 0] ** alpha).sum())) if math.isfinite(alpha)
                 else float("nan"))
    return {"lambda_max": lmax, "stable_rank": total / lmax if lmax > 0 else float("nan"),
            "log_norm": math.log10(total) if total > 0 else float("nan"),
            "log_spectral_norm": math.log10(lmax) if lmax > 0 else float("nan"),
            "log_alpha_norm": log_alpha,
            "alpha_hat": alpha * math.log10(lmax) if lmax > 0 else float("nan")}


#: Fewest eigenvalues a power-law fit is made on: WeightWatcher 0.7.7's ``DEFAULT_MIN_EVALS``
#: (8 in its code; its docstring says 10).
MIN_EVALS = 8


def analyze_weights(model: nn.Module, *, conv: str = "slices", mp_fit: bool = True,
                    randomize: bool = True, seed: int | torch.Generator = 0,
                    dtype: torch.dtype | None = None,
                    min_evals: int = MIN_EVALS) -> WeightSpectra:
    """Spectral diagnostics of every weight matrix of ``model`` (WeightWatcher-style).

    For each matrix of :func:`weight_matrices`: the ESD (pooled over conv slices), the
    power-law fit (:func:`fit_power_law`, on the eigenvalues above the eigensolver's
    round-off ``lambda_max * M * eps``), ``alpha_hat = alpha log10 lambda_max`` (the
    "alpha-weighted" metric of Martin & Mahoney 2021), the stable rank
    ``sum lambda / lambda_max``, ``log_norm = log10 sum lambda`` (= log10 of the squared
    Frobenius norm), ``log_spectral_norm = log10 lambda_max`` (squared spectral norm),
    ``log_alpha_norm = log10 sum lambda^alpha`` (WeightWatcher's definitions); with
    ``mp_fit`` the MP fit (:func:`fit_marchenko_pastur`: spikes, soft rank, bulk edge);
    with ``randomize`` the ESD of the matrix with its entries randomly permuted (each
    slice on its own), its largest eigenvalue, its MP spikes (``n_traps``: correlation
    traps) and ``rand_distance``, the Jensen-Shannon distance between the sorted real and
    randomised spectra taken as normalised vectors (WeightWatcher's definition).

    All eigensolves (real and randomised) of Gram matrices of the same size run in one
    batched ``torch.linalg.eigvalsh`` call on the weights' device.

    Every parameter is accounted for: matrices are those of :func:`weight_matrices`
    (Linear, ``transformers`` Conv1D, convs incl. transposed, embeddings, attention, any
    other 2-D ``weight``); a tied tensor is analysed once with its other names in
    ``aliases``; every other parameter is listed in ``result.skipped`` with the reason.
    A matrix with fewer than ``min_evals`` eigenvalues above round-off gets no power-law
    fit (``alpha`` NaN, the reason in ``note``): an exponent from a handful of points
    means nothing. Depthwise convs (``C x 1`` slices, one eigenvalue each) are noted.

    Deviations from WeightWatcher 0.7.7 defaults: conv eigenvalues are not multiplied by
    1/2 (its ``conv2d_norm``; alpha is unaffected, its ``lambda_max`` and log norms of
    conv layers are half / ``log10 2`` lower), no bias-corrected fit below 20 values, one
    randomisation per matrix (it uses 5 when a layer has fewer than 100 eigenvalues).

    Args:
        model: the network; it is not modified (no mode change, no gradients).
        conv: ``"slices"`` (kernel-position slices, pooled) or ``"reshape"``.
        mp_fit: fit the MP bulk of each ESD.
        randomize: also analyse the element-wise permuted matrices.
        seed: seed of the permutations, an int or a ``torch.Generator`` to draw one from
            (drawn on the CPU; the same on any device).
        dtype: dtype of the Gram matrices and eigensolves (default: the weights'
            precision, at least float32; see :func:`esd`).
        min_evals: fewest eigenvalues for a power-law fit (default 8, the value WeightWatcher
            0.7.7 uses; its docstring says 10).

    Returns:
        A :class:`WeightSpectra`; ``.to_frame()`` has one row per matrix.

    Raises:
        DeepscopeTypeError: ``model`` is not a module.
        DeepscopeValueError: bad options, a model without weight matrices, NaN/inf weights.

    Example:
        >>> from deepscope.nets import MLP
        >>> frame = analyze_weights(MLP((64, 256, 128, 10))).to_frame()
        >>> list(frame.layer)
        ['fc1', 'fc2', 'fc3']
    """
    func = "analyze_weights"
    check_model(model, func)
    check_choice(conv, "conv", func, _CONV)
    for name, val in (("mp_fit", mp_fit), ("randomize", randomize)):
        if not isinstance(val, bool):
            raise param_error(name, func, "a bool", val, type_error=True)
    min_evals = check_int(min_evals, "min_evals", func, low=2)
    gen, seed = make_generator(seed, "seed", func)
    perm_seed = seed if seed is not None else spawn(gen)
    if dtype is not None and dtype not in (torch.float32, torch.float64):
        raise param_error("dtype", func, "torch.float32, torch.float64 or None", dtype)
    mats, skipped = _mat.collect_all(model, conv)
    if not mats:
        raise DeepscopeValueError(f"{func} found no Linear, Conv, Embedding or attention "
                                  "weight matrix in the model.")
    with torch.no_grad():
        for m in mats:
            if not bool(torch.isfinite(m.weights).all()):
                raise DeepscopeValueError(f"Weights of layer {m.layer!r} contain NaN or inf.")
        stacks = [m.weights for m in mats]
        if randomize:
            stacks = stacks + _mat.permuted(mats, perm_seed)
        evs = [torch.sort(e.reshape(-1).to(torch.float64)).values
               for e in _mat.batched_eigenvalues(stacks, dtype)]
        real, rand = evs[:len(mats)], (evs[len(mats):] if randomize else [None] * len(mats))
        fits, mps, rmps, extras, notes = [], [], [], [], []
        for m, ev, rev in zip(mats, real, rand):
            eps = torch.finfo(_mat.solve_dtype(m.weights, dtype)).eps
            tol = float(ev[-1]) * m.M * eps
            kept = ev[ev > tol]
            note = []
            if kept.numel() < min_evals:
                fit = PowerLawFit.empty(int((kept > 0).sum()), True)
                note.append(f"no power-law fit: {kept.numel()} eigenvalues < min_evals="
                            f"{min_evals}")
            else:
                fit = _power_law(kept, "search")
            if m.depthwise:
                note.append("depthwise conv: one eigenvalue per kernel-position slice")
            notes.append("; ".join(note))
            fits.append(fit)
            mps.append(_marchenko_pastur(ev, m.q, m.M, 0.1) if mp_fit else None)
            extra = _norms(ev, fit.alpha)
            if rev is not None:
                rmps.append(_marchenko_pastur(rev, m.q, m.M, 0.1) if mp_fit else None)
                extra["rand_lambda_max"] = float(rev[-1])
                extra["rand_distance"] = js_distance(ev, rev)
            else:
                rmps.append(None)
            extras.append(extra)
    return WeightSpectra(
        layers=tuple(m.layer for m in mats), matrices=tuple(m.matrix for m in mats),
        kinds=tuple(m.kind for m in mats), shapes=tuple(m.shape for m in mats),
        N=tuple(m.N for m in mats), M=tuple(m.M for m in mats),
        n_slices=tuple(m.n_slices for m in mats),
        eigenvalues=tuple(e.cpu().numpy() for e in real),
        random_eigenvalues=(tuple(e.cpu().numpy() for e in rand) if randomize else None),
        power_law=tuple(fits), marchenko_pastur=tuple(mps),
        random_marchenko_pastur=tuple(rmps), metrics=tuple(extras),
        params={"conv": conv, "mp_fit": mp_fit, "randomize": randomize,
                "dtype": str(dtype).replace("torch.", "") if dtype else "auto",
                "min_evals": min_evals},
        seed=seed, notes=tuple(notes), aliases=tuple(m.aliases for m in mats),
        skipped=tuple(skipped),
    )
