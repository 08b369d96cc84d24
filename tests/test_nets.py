"""Tests of deepscope.nets: the reference MLP."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.nets import MLP


def test_mlp_structure_and_names():
    net = MLP((12, 10, 7, 5, 4, 3, 2), activation="tanh")
    names = [name for name, _ in net.named_children()]
    assert names == [
        "fc1", "act1", "fc2", "act2", "fc3", "act3", "fc4", "act4", "fc5", "act5", "fc6",
    ]
    assert [(fc.in_features, fc.out_features) for fc in net.linear_layers] == [
        (12, 10), (10, 7), (7, 5), (5, 4), (4, 3), (3, 2),
    ]
    assert net.widths == (12, 10, 7, 5, 4, 3, 2)
    assert net.activation == "tanh"


@pytest.mark.parametrize(
    ("activation", "cls"),
    [
        ("tanh", nn.Tanh),
        ("relu", nn.ReLU),
        ("sigmoid", nn.Sigmoid),
        ("leaky_relu", nn.LeakyReLU),
        ("linear", nn.Identity),
    ],
)
def test_mlp_activations(activation, cls):
    net = MLP((3, 4, 2), activation=activation)
    assert isinstance(net.act1, cls)
    if activation == "leaky_relu":
        assert net.act1.negative_slope == 0.01


def test_mlp_forward_gives_logits():
    torch.manual_seed(0)
    net = MLP((5, 4, 3), activation="relu")
    x = torch.randn(7, 5)
    out = net(x)
    assert out.shape == (7, 3)
    expected = net.fc2(torch.relu(net.fc1(x)))
    torch.testing.assert_close(out, expected)
    assert not torch.allclose(out.sum(1), torch.ones(7))  # logits, not probabilities


def test_mlp_single_layer_has_no_activation():
    net = MLP((4, 2))
    assert [name for name, _ in net.named_children()] == ["fc1"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"widths": (3,)}, "'widths' parameter of MLP"),
        ({"widths": (3, 0, 2)}, "'widths' parameter of MLP"),
        ({"widths": "32"}, "'widths' parameter of MLP"),
        ({"widths": (3, 2.5, 2)}, "'widths' parameter of MLP"),
        ({"widths": (3, 2), "activation": "gelu"}, "'activation' parameter of MLP must be one of"),
    ],
)
def test_mlp_bad_arguments(kwargs, match):
    with pytest.raises(DeepscopeError, match=match):
        MLP(**kwargs)


def test_small_cnn_shapes_names_and_validation():
    from deepscope.nets import SmallCNN

    net = SmallCNN()
    names = [name for name, _ in net.named_children()]
    assert names == ["conv1", "relu1", "pool1", "conv2", "relu2", "pool2", "flatten", "fc1",
                     "relu3", "fc2"]
    assert net(torch.zeros(3, 1, 8, 8)).shape == (3, 10)
    wide = SmallCNN(channels=(4, 6), hidden=5, n_classes=2, in_channels=3, image_size=12)
    assert wide(torch.zeros(2, 3, 12, 12)).shape == (2, 2)
    with pytest.raises(DeepscopeError, match="image_size"):
        SmallCNN(image_size=10)
    with pytest.raises(DeepscopeError, match="hidden"):
        SmallCNN(hidden=0)
