"""scikit-learn's bundled handwritten digits (1,797 images of 8 x 8 pixels), as tensors.

The data ship inside scikit-learn (``sklearn.datasets.load_digits``), so nothing is
downloaded. Studies that train small MLPs and CNNs on real images use this set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepscope.errors import DeepscopeError, check_float, check_int

__all__ = ["Digits", "digits"]


@dataclass(frozen=True)
class Digits:
    """A seeded train/test split of the digits.

    Attributes:
        x_train: Inputs, (n_train, 64) floats, or (n_train, 1, 8, 8) with ``image=True``.
        y_train: int64 labels in 0..9.
        x_test: Held-out inputs, same layout.
        y_test: Held-out labels.
        seed: Seed of the split (and of label shuffling).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    seed: int


def digits(
    *,
    test_fraction: float = 0.25,
    seed: int = 0,
    image: bool = False,
    standardize: bool = True,
    random_labels: float = 0.0,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str | None = None,
) -> Digits:
    """scikit-learn's 8 x 8 digits, split into train and test sets by a seeded permutation.

    Pixels (0..16) are scaled to [0, 1]; with ``standardize`` every pixel is then centred and
    scaled by the train set's overall mean and standard deviation (one scalar each, so
    images keep their shape statistics).

    Args:
        test_fraction: Share of the 1,797 images held out, in (0, 1).
        seed: Seed of the permutation that splits the data (and of label shuffling).
        image: Return inputs as (n, 1, 8, 8) images for CNNs instead of (n, 64) vectors.
        standardize: Centre and scale the pixels with the train set's mean and std.
        random_labels: Fraction in [0, 1] of train labels replaced by uniformly random
            labels (Zhang et al. 2017, arXiv 1611.03530); the test labels stay true.
        dtype: Floating dtype of the inputs.
        device: Where to put the tensors.

    Returns:
        A :class:`Digits` split.

    Raises:
        DeepscopeValueError: On a fraction out of range or a negative seed.
        DeepscopeError: If scikit-learn is not installed.

    Example:
        >>> d = digits(seed=0)
        >>> d.x_train.shape, d.x_test.shape
        (torch.Size([1348, 64]), torch.Size([449, 64]))
    """
    check_float(test_fraction, "test_fraction", "digits", low=0.0, high=1.0, closed="neither")
    check_int(seed, "seed", "digits", low=0)
    check_float(random_labels, "random_labels", "digits", low=0.0, high=1.0)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:  # pragma: no cover - scikit-learn is a dependency
        raise DeepscopeError(
            "deepscope.data.digits needs scikit-learn: pip install scikit-learn"
        ) from exc
    bunch = load_digits()
    x = np.asarray(bunch.data, dtype=np.float64) / 16.0
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    n_test = max(1, int(round(test_fraction * len(y))))
    test, train = order[:n_test], order[n_test:]
    x_train, x_test = x[train], x[test]
    y_train, y_test = y[train].copy(), y[test]
    if standardize:
        mean, std = x_train.mean(), x_train.std()
        x_train = (x_train - mean) / std
        x_test = (x_test - mean) / std
    if random_labels > 0:
        flip = rng.random(len(y_train)) < random_labels
        y_train[flip] = rng.integers(0, 10, size=int(flip.sum()))
    shape = (-1, 1, 8, 8) if image else (-1, 64)

    def as_x(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a.reshape(shape), dtype=dtype, device=device)

    def as_y(a: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(a, dtype=torch.int64, device=device)

    return Digits(as_x(x_train), as_y(y_train), as_x(x_test), as_y(y_test), seed)
