"""CP decomposition by alternating least squares: an upper bound on the CP rank."""

from __future__ import annotations

import numpy as np

__all__ = ["cp_als", "cp_terms_needed"]


def _khatri_rao(mats: list[np.ndarray]) -> np.ndarray:
    out = mats[0]
    for m in mats[1:]:
        out = (out[:, None, :] * m[None, :, :]).reshape(-1, out.shape[1])
    return out


def cp_als(tensor: np.ndarray, terms: int, *, rng: np.random.Generator, max_iter: int = 1000,
           tol: float = 1e-6, ridge: float = 1e-12) -> float:
    """Relative Frobenius error of a rank-``terms`` CP fit by ALS (one random start).

    Stops at ``tol`` relative error, after ``max_iter`` sweeps, or when a sweep improves the
    error by less than 1e-9 of itself over 50 sweeps (a swamp it will not leave in time).
    """
    n = tensor.ndim
    norm = np.linalg.norm(tensor)
    if norm == 0:
        return 0.0
    t = tensor / norm
    unfold = [np.moveaxis(t, k, 0).reshape(t.shape[k], -1) for k in range(n)]
    factors = [rng.standard_normal((d, terms)) for d in t.shape]
    def error(fs: list[np.ndarray]) -> float:
        return float(np.linalg.norm(unfold[0] - fs[0] @ _khatri_rao(fs[1:]).T))

    err, history = np.inf, []
    for it in range(max_iter):
        old = [f.copy() for f in factors]
        for k in range(n):
            others = [factors[j] for j in range(n) if j != k]
            gram = np.ones((terms, terms))
            for f in others:
                gram *= f.T @ f
            mttkrp = unfold[k] @ _khatri_rao(others)
            factors[k] = np.linalg.solve(gram + ridge * np.eye(terms), mttkrp.T).T
        err = error(factors)
        if it >= 2:                     # line search along the sweep (Bro 1998): extrapolate
            step = (it + 1) ** (1.0 / 3.0)
            trial = [f + step * (f - o) for f, o in zip(factors, old)]
            trial_err = error(trial)
            if trial_err < err:
                factors, err = trial, trial_err
        history.append(err)
        if err <= tol:
            break
        if it >= 50 and history[-51] - err < 1e-9 * err:
            break
    return err


def cp_terms_needed(tensor: np.ndarray, lower: int, upper: int, *, seed: int,
                    restarts: int = 3, max_iter: int = 1000, tol: float = 1e-6
                    ) -> tuple[int | None, dict[int, float]]:
    """Smallest ``Z`` in ``[lower, upper]`` at which ALS reaches ``tol`` (best of restarts).

    Tries ``lower`` first, then doubles, then bisects (assuming success is monotone in
    ``Z``). Returns ``(Z or None if even upper fails, {Z: best error})``.
    """
    rng = np.random.default_rng(seed)
    errors: dict[int, float] = {}

    def ok(z: int) -> bool:
        if z not in errors:
            errors[z] = min(cp_als(tensor, z, rng=rng, max_iter=max_iter, tol=tol)
                            for _ in range(restarts))
        return errors[z] <= tol

    if ok(lower):
        return lower, errors
    lo, hi = lower, lower
    while True:
        hi = min(upper, 2 * hi)
        if ok(hi):
            break
        if hi == upper:
            return None, errors
        lo = hi
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi, errors
