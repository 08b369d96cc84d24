"""A small convolutional network for 8 x 8 images (scikit-learn's digits)."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from deepscope.errors import check_int

__all__ = ["SmallCNN"]


class SmallCNN(nn.Sequential):
    """``conv-ReLU-maxpool`` twice, then two ``Linear`` layers; returns logits.

    Built only from modules every lens supports (Conv2d, ReLU, MaxPool2d, Flatten, Linear),
    so the exact linear-region lens can trace it. Submodules: ``conv1, relu1, pool1, conv2,
    relu2, pool2, flatten, fc1, relu3, fc2``. For an ``s x s`` input, both pools halve the
    size (3 x 3 convolutions keep it with padding 1).

    Args:
        channels: Channels of the two conv layers.
        hidden: Width of the hidden fully connected layer.
        n_classes: Number of outputs.
        in_channels: Channels of the input images.
        image_size: Side of the square input (divisible by 4).

    Example:
        >>> import torch
        >>> SmallCNN()(torch.zeros(5, 1, 8, 8)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        channels: tuple[int, int] = (8, 16),
        hidden: int = 32,
        n_classes: int = 10,
        *,
        in_channels: int = 1,
        image_size: int = 8,
    ) -> None:
        c1 = check_int(channels[0], "channels[0]", "SmallCNN", low=1)
        c2 = check_int(channels[1], "channels[1]", "SmallCNN", low=1)
        hidden = check_int(hidden, "hidden", "SmallCNN", low=1)
        n_classes = check_int(n_classes, "n_classes", "SmallCNN", low=1)
        in_channels = check_int(in_channels, "in_channels", "SmallCNN", low=1)
        image_size = check_int(image_size, "image_size", "SmallCNN", low=4)
        if image_size % 4:
            from deepscope.errors import param_error

            raise param_error("image_size", "SmallCNN", "a multiple of 4", image_size)
        side = image_size // 4
        super().__init__(
            OrderedDict(
                conv1=nn.Conv2d(in_channels, c1, 3, padding=1),
                relu1=nn.ReLU(),
                pool1=nn.MaxPool2d(2),
                conv2=nn.Conv2d(c1, c2, 3, padding=1),
                relu2=nn.ReLU(),
                pool2=nn.MaxPool2d(2),
                flatten=nn.Flatten(),
                fc1=nn.Linear(c2 * side * side, hidden),
                relu3=nn.ReLU(),
                fc2=nn.Linear(hidden, n_classes),
            )
        )
