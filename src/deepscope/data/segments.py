"""k-tuples of binary images of random line segments (Shalev-Shwartz et al. 2017, Section 3).

Shalev-Shwartz, Shamir & Shammah (2017, "Failures of Gradient-Based Deep Learning", arXiv
1703.07950, Section 3) compare end-to-end training with a decomposition on tuples of
``k`` images: each image shows one line segment at a random angle, its label says whether
the angle is below pi/2 (the segment rises to the right), and the tuple's label is the
product of the ``k`` per-image labels in ``{-1, +1}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from deepscope.seeding import make_generator
from deepscope.errors import check_float, check_int, param_error

__all__ = ["SegmentTuples", "rasterize_segments", "segment_tuples"]


@dataclass(frozen=True)
class SegmentTuples:
    """Tuples of segment images with their labels.

    Attributes:
        images: ``(n, k, 1, size, size)`` float tensor of 0/1 pixels.
        angles: ``(n, k)`` angles in ``[0, pi)`` (counter-clockwise from the x axis, the
            image's y axis pointing up).
        image_labels: ``(n, k)`` per-image labels, ``+1`` if the angle is below pi/2 else
            ``-1`` (float).
        labels: ``(n,)`` tuple labels, the product of the per-image labels.
        seed: the seed that generated them.
    """

    images: torch.Tensor
    angles: torch.Tensor
    image_labels: torch.Tensor
    labels: torch.Tensor
    seed: int | None


def rasterize_segments(centers: torch.Tensor, angles: torch.Tensor, lengths: torch.Tensor,
                       *, size: int = 28, width: float = 1.0) -> torch.Tensor:
    """Binary images of segments: a pixel is on when its centre is within ``width / 2``.

    Pixel ``(row, col)`` has its centre at ``x = col``, ``y = size - 1 - row``. The
    distance of every pixel centre to every segment is computed at once (no loops).

    Args:
        centers: ``(m, 2)`` segment centres ``(x, y)`` in pixel units.
        angles: ``(m,)`` angles in radians.
        lengths: ``(m,)`` segment lengths in pixels.
        size: image side.
        width: stroke width in pixels.

    Returns:
        ``(m, size, size)`` float tensor of 0/1 on the inputs' device.
    """
    size = check_int(size, "size", "rasterize_segments", low=2, high=4096)
    width = check_float(width, "width", "rasterize_segments", low=0.0, closed="neither")
    dev, dt = centers.device, centers.dtype
    coords = torch.arange(size, device=dev, dtype=dt)
    px = coords.view(1, 1, size).expand(1, size, size)            # x = col
    py = (size - 1 - coords).view(1, size, 1).expand(1, size, size)  # y grows upwards
    dx, dy = torch.cos(angles).view(-1, 1, 1), torch.sin(angles).view(-1, 1, 1)
    half = (lengths / 2).view(-1, 1, 1)
    rx, ry = px - centers[:, 0].view(-1, 1, 1), py - centers[:, 1].view(-1, 1, 1)
    t = (rx * dx + ry * dy).clamp(-half, half)                     # projection on the segment
    dist2 = (rx - t * dx) ** 2 + (ry - t * dy) ** 2
    return (dist2 <= (width / 2) ** 2).to(dt)


def segment_tuples(n: int, k: int = 1, *, size: int = 28,
                   length: tuple[float, float] = (12.0, 20.0), margin: float = 0.0,
                   seed: int | torch.Generator = 0,
                   device: str | torch.device | None = None) -> SegmentTuples:
    """``n`` tuples of ``k`` images of one random line segment each.

    Each segment has an angle uniform on ``[0, pi)`` (excluding ``margin`` radians around
    0, pi/2 and pi when ``margin > 0``, which removes near-ambiguous images), a length
    uniform on ``length`` and a centre uniform among the positions that keep the whole
    segment inside the image. Randomness comes from a CPU generator seeded with ``seed``
    (the same data on every device).

    Args:
        n: number of tuples.
        k: images per tuple.
        size: image side (the paper: 28).
        length: ``(low, high)`` segment lengths in pixels, ``high <= size - 1``.
        margin: excluded band (radians) on each side of 0, pi/2 and pi, ``< pi/4``.
        seed: random seed.
        device: where to put the tensors (default CPU).

    Returns:
        A :class:`SegmentTuples`.

    Raises:
        DeepscopeValueError: out-of-range arguments.

    Example:
        >>> d = segment_tuples(4, k=3, seed=0)
        >>> d.images.shape, bool((d.labels == d.image_labels.prod(1)).all())
        (torch.Size([4, 3, 1, 28, 28]), True)
    """
    func = "segment_tuples"
    n = check_int(n, "n", func, low=1, high=10_000_000)
    k = check_int(k, "k", func, low=1, high=64)
    size = check_int(size, "size", func, low=8, high=1024)
    margin = check_float(margin, "margin", func, low=0.0, high=math.pi / 4, closed="left")
    if (not isinstance(length, (tuple, list)) or len(length) != 2
            or not all(isinstance(v, (int, float)) for v in length)
            or not 1.0 <= length[0] <= length[1] <= size - 1):
        raise param_error("length", func, f"a pair (low, high) with 1 <= low <= high <= {size - 1}",
                          length)
    gen, seed = make_generator(seed, "seed", func)
    m = n * k
    # angle: uniform on [margin, pi/2 - margin] U [pi/2 + margin, pi - margin]
    band = math.pi / 2 - 2 * margin
    u = torch.rand(m, generator=gen, dtype=torch.float64) * 2 * band
    angles = torch.where(u < band, margin + u, math.pi / 2 + margin + (u - band))
    lengths = length[0] + (length[1] - length[0]) * torch.rand(m, generator=gen,
                                                               dtype=torch.float64)
    ext_x = (lengths / 2) * torch.cos(angles).abs()
    ext_y = (lengths / 2) * torch.sin(angles).abs()
    lo = torch.stack([ext_x, ext_y], 1)
    span = (size - 1) - 2 * lo
    centers = lo + span * torch.rand(m, 2, generator=gen, dtype=torch.float64)
    dev = torch.device(device) if device is not None else torch.device("cpu")
    images = rasterize_segments(centers.to(dev), angles.to(dev), lengths.to(dev), size=size)
    images = images.to(torch.float32).view(n, k, 1, size, size)
    image_labels = torch.where(angles < math.pi / 2, 1.0, -1.0).to(torch.float32).view(n, k)
    angles = angles.to(torch.float32).view(n, k)
    return SegmentTuples(images=images, angles=angles.to(dev),
                         image_labels=image_labels.to(dev),
                         labels=image_labels.prod(1).to(dev), seed=seed)
