"""A per-image scorer shared across a k-tuple of images, then a small head on the k scores.

The architecture of Shalev-Shwartz, Shamir & Shammah (2017, arXiv 1703.07950, Section 3):
a LeNet-like network ``N1`` (two 5 x 5 convolutions with 16 channels, each followed by ReLU
and 2 x 2 max-pooling, then fully connected layers of 50 and 100 ReLU units) gives one
score per image; a head ``N2`` (one hidden ReLU layer) maps the ``k`` scores to the
tuple's score. End-to-end training sees only the tuple label; the decomposition also
trains ``N1`` on the per-image labels.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from deepscope.errors import check_int, param_error

__all__ = ["SegmentNet", "TupleNet"]


class SegmentNet(nn.Sequential):
    """Per-image network ``N1``: conv-ReLU-pool twice, ReLU hidden layers, one score.

    Submodules: ``conv1, relu1, pool1, conv2, relu2, pool2, flatten, fc1, relu3, ...,
    score`` (``fc{i}`` / ``relu{i+2}`` for each hidden width). Convolutions have no
    padding, so a 28 x 28 image becomes 16 x 4 x 4 = 256 features.

    Args:
        channels: channels of both convolutions (the paper: 16).
        hidden: widths of the fully connected hidden layers (the paper: 50, 100).
        kernel: convolution kernel side (the paper: 5).
        image_size: side of the square input images.

    Example:
        >>> SegmentNet()(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 1])
    """

    def __init__(self, channels: int = 16, hidden: Sequence[int] = (50, 100), *,
                 kernel: int = 5, image_size: int = 28) -> None:
        func = "SegmentNet"
        channels = check_int(channels, "channels", func, low=1)
        kernel = check_int(kernel, "kernel", func, low=1, high=15)
        image_size = check_int(image_size, "image_size", func, low=1)
        if isinstance(hidden, (str, bytes)) or not isinstance(hidden, Sequence):
            raise param_error("hidden", func, "a sequence of positive ints", hidden)
        hidden = [check_int(h, "hidden", func, low=1) for h in hidden]
        side = ((image_size - kernel + 1) // 2 - kernel + 1) // 2
        if side < 1:
            raise param_error("image_size", func,
                              f"at least {3 * kernel + 1} for kernel {kernel}", image_size)
        layers: OrderedDict[str, nn.Module] = OrderedDict(
            conv1=nn.Conv2d(1, channels, kernel), relu1=nn.ReLU(), pool1=nn.MaxPool2d(2),
            conv2=nn.Conv2d(channels, channels, kernel), relu2=nn.ReLU(),
            pool2=nn.MaxPool2d(2), flatten=nn.Flatten(),
        )
        width = channels * side * side
        for i, h in enumerate(hidden):
            layers[f"fc{i + 1}"] = nn.Linear(width, h)
            layers[f"relu{i + 3}"] = nn.ReLU()
            width = h
        layers["score"] = nn.Linear(width, 1)
        super().__init__(layers)


class TupleNet(nn.Module):
    """``N2(N1(x_1), ..., N1(x_k))``: one shared per-image network and a head.

    ``forward`` takes ``(n, k, 1, s, s)`` tuples and returns the ``(n,)`` tuple scores;
    :meth:`image_scores` returns the ``(n, k)`` per-image scores of ``N1``. Submodules:
    ``image_net`` (a :class:`SegmentNet`) and ``head`` (``fc1, relu1, fc2``).

    Args:
        k: images per tuple.
        channels, hidden, kernel, image_size: of the :class:`SegmentNet`.
        head_hidden: hidden width of the head.

    Example:
        >>> TupleNet(3)(torch.zeros(4, 3, 1, 28, 28)).shape
        torch.Size([4])
    """

    def __init__(self, k: int, *, channels: int = 16, hidden: Sequence[int] = (50, 100),
                 kernel: int = 5, image_size: int = 28, head_hidden: int = 100) -> None:
        super().__init__()
        self.k = check_int(k, "k", "TupleNet", low=1)
        head_hidden = check_int(head_hidden, "head_hidden", "TupleNet", low=1)
        self.image_net = SegmentNet(channels, hidden, kernel=kernel, image_size=image_size)
        self.head = nn.Sequential(OrderedDict(
            fc1=nn.Linear(self.k, head_hidden), relu1=nn.ReLU(), fc2=nn.Linear(head_hidden, 1)))

    def image_scores(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, k)`` scores of ``N1`` on each image of each tuple."""
        n, k = x.shape[0], x.shape[1]
        return self.image_net(x.reshape(n * k, *x.shape[2:])).view(n, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return self.head(self.image_scores(x)).squeeze(-1)
