"""Binary images of random blobs for the two tasks of Cohen & Shashua (ICLR 2017).

"Inductive bias of deep convolutional networks through pooling geometry" (arXiv
1605.06743) contrasts two tasks on binary images of random blobs:

* ``"closedness"``: is the blob's outline closed? Positives are the 1-pixel outline of a
  random star-shaped blob; negatives are the same kind of outline with a gap of 2-4
  consecutive pixels cut out. The label is checked on the image itself: an outline is
  closed when the background falls into at least two 4-connected components.
  Telling them apart takes local correlations (the ends of the gap).
* ``"symmetry"``: is the blob left-right symmetric? A filled blob centred on the vertical
  axis; its radius on each half is ``r0 + sum_k a_k sin(k psi)`` (``psi`` runs over the
  half from top to bottom, so the halves meet at radius ``r0`` on the axis). Positives
  mirror the left half's coefficients; negatives draw the right half independently. Each
  half alone has the same distribution in both classes: only the correlation between
  mirror-image pixels tells them apart.

Classes are balanced (alternating). Deterministic for a given seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from deepscope.errors import check_choice, check_int

__all__ = ["BlobImages", "blob_images"]

_FUNC = "blob_images"


@dataclass(frozen=True)
class BlobImages:
    """Binary blob images and labels.

    Attributes:
        images: ``(n, size, size)`` float32 tensor of 0/1 pixels.
        labels: ``(n,)`` int64: 1 = closed outline / symmetric blob.
        task: ``"closedness"`` or ``"symmetry"``.
        seed: The seed.
    """

    images: torch.Tensor
    labels: torch.Tensor
    task: str
    seed: int

    def one_hot(self) -> torch.Tensor:
        """``(n, 2, size, size)``: channel 0 = background, channel 1 = ink."""
        x = self.images.unsqueeze(1)
        return torch.cat([1.0 - x, x], dim=1)


def _closed(img: np.ndarray) -> bool:
    from scipy import ndimage

    _, count = ndimage.label(img == 0)               # 4-connectivity by default
    return count >= 2


def _outline(rng: np.random.Generator, size: int) -> list[tuple[int, int]]:
    r0 = rng.uniform(0.22, 0.34) * size
    margin = r0 * 1.3 + 0.6
    cy, cx = rng.uniform(margin, size - 1 - margin, size=2) if margin < size / 2 - 0.5 \
        else (np.array([size / 2 - 0.5] * 2))
    amps = rng.uniform(-0.22, 0.22, size=3) * r0
    phases = rng.uniform(0, 2 * np.pi, size=3)
    theta = np.linspace(0, 2 * np.pi, 64 * size, endpoint=False)
    rad = r0 + sum(a * np.cos((k + 2) * theta + ph) for k, (a, ph) in
                   enumerate(zip(amps, phases)))
    ys = np.clip(np.rint(cy + rad * np.sin(theta)), 0, size - 1).astype(int)
    xs = np.clip(np.rint(cx + rad * np.cos(theta)), 0, size - 1).astype(int)
    pts: list[tuple[int, int]] = []
    for p in zip(ys.tolist(), xs.tolist()):
        if not pts or pts[-1] != p:
            pts.append(p)
    while len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    return pts


def _closedness(rng: np.random.Generator, size: int, positive: bool) -> np.ndarray:
    while True:
        pts = _outline(rng, size)
        img = np.zeros((size, size), dtype=np.float32)
        for y, x in pts:
            img[y, x] = 1.0
        if positive:
            if _closed(img):
                return img
            continue
        gap = int(rng.integers(2, 5))
        start = int(rng.integers(len(pts)))
        cut = {pts[(start + i) % len(pts)] for i in range(gap)}
        for y, x in cut:
            img[y, x] = 0.0
        if not _closed(img) and img.sum() > 0:
            return img


def _symmetry(rng: np.random.Generator, size: int, positive: bool) -> np.ndarray:
    r0 = rng.uniform(0.2, 0.3) * size
    cy, cx = rng.uniform(0.42, 0.58) * (size - 1), (size - 1) / 2
    k = np.arange(1, 5)
    left = rng.uniform(-0.35, 0.35, size=4) * r0 / k
    right = left if positive else rng.uniform(-0.35, 0.35, size=4) * r0 / k
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    dy, dx = yy - cy, xx - cx
    psi = np.arctan2(np.abs(dx), -dy)               # 0 at the top, pi at the bottom
    coef = np.where(dx[..., None] < 0, left, right)
    rad = r0 + (coef * np.sin(k * psi[..., None])).sum(-1)
    return (np.hypot(dy, dx) <= rad).astype(np.float32)


def blob_images(n: int, task: str = "closedness", *, size: int = 16,
                seed: int = 0) -> BlobImages:
    """``n`` binary ``size x size`` blob images for ``task`` (balanced classes).

    Args:
        n: Number of images.
        task: ``"closedness"`` or ``"symmetry"`` (see the module docstring).
        size: Side of the images (8 to 64).
        seed: Seed of ``numpy.random.default_rng``.

    Returns:
        A :class:`BlobImages`.

    Example:
        >>> data = blob_images(10, "symmetry", seed=1)
        >>> data.images.shape, int(data.labels.sum())
        (torch.Size([10, 16, 16]), 5)
    """
    n = check_int(n, "n", _FUNC, low=1, high=10_000_000)
    check_choice(task, "task", _FUNC, ("closedness", "symmetry"))
    size = check_int(size, "size", _FUNC, low=8, high=64)
    check_int(seed, "seed", _FUNC, low=0)
    rng = np.random.default_rng(seed)
    make = _closedness if task == "closedness" else _symmetry
    labels = np.arange(n) % 2 == 0
    images = np.stack([make(rng, size, bool(pos)) for pos in labels])
    return BlobImages(torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64)),
                      task, seed)
