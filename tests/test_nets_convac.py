"""ConvACs and their ReLU counterparts: pooling trees, log space, shapes, errors."""

from __future__ import annotations

import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.nets import convac, pooling_tree, relu_convnet


def test_pooling_trees():
    assert pooling_tree(8, "square").groups[1] == ((0, 1, 2, 3), (4, 5, 6, 7))
    assert pooling_tree(8, "mirror").groups[0] == ((0, 7), (1, 6), (2, 5), (3, 4))
    assert pooling_tree(8, "mirror").groups[1] == ((0, 1, 6, 7), (2, 3, 4, 5))
    sq = pooling_tree((4, 4), "square")
    assert sq.depth == 4 and sq.groups[1][0] == (0, 1, 4, 5)          # a 2x2 window
    mi = pooling_tree((4, 4), "mirror")
    assert mi.groups[0][0] == (0, 3) and mi.groups[1][0] == (0, 3, 4, 7)
    assert pooling_tree((1, 4), "square").groups == pooling_tree(4, "square").groups
    for tree in (sq, mi, pooling_tree((2, 8), "mirror")):
        assert tree.groups[-1] == (tuple(range(tree.n_positions)),)


def test_log_space_is_the_log_of_the_positive_circuit():
    log_net = convac((4, 4), 3, (2, 3, 2, 2), space="log", pooling="mirror", seed=1)
    lin = convac((4, 4), 3, (2, 3, 2, 2), pooling="mirror", seed=1)
    with torch.no_grad():
        lin.representation.copy_(log_net.representation.exp())
        for a, b in zip(lin.convs, log_net.convs):
            a.copy_(torch.softmax(b, -1))
        lin.output.copy_(torch.softmax(log_net.output, -1))
    x = torch.eye(3)[torch.randint(0, 3, (5, 16), generator=torch.Generator().manual_seed(0))]
    x = x.transpose(1, 2).reshape(5, 3, 4, 4)
    torch.testing.assert_close(log_net(x), torch.log(lin(x)), rtol=1e-4, atol=1e-4)


def test_shapes_and_parameters():
    net = convac(16, 4, 3, kind="shallow", shared=False, in_channels=5, n_outputs=2)
    assert net(torch.randn(7, 5, 16)).shape == (7, 2)
    assert net.convs[0].shape == (16, 3, 4)
    deep = convac((8, 8), 2, 4, n_outputs=3)
    assert deep(torch.randn(2, 2, 8, 8)).shape == (2, 3) and len(deep.convs) == 6
    relu = relu_convnet((8, 8), 2, 6, pooling="mirror", pool="avg", n_outputs=2)
    assert relu(torch.randn(3, 2, 8, 8)).shape == (3, 2)
    assert torch.equal(convac(8, 2, 2, seed=3).convs[1], convac(8, 2, 2, seed=3).convs[1])


def test_relu_convnet_mixes_positions_only_through_the_tree():
    # square pooling on 8 positions: positions 0 and 1 meet at level 0, 0 and 7 at the root;
    # with mirror pooling 0 and 7 meet first. Check which pairs interact after one level.
    for pooling, partner in (("square", 1), ("mirror", 7)):
        net = relu_convnet(8, 1, 4, pooling=pooling, seed=0)
        assert net.tree.groups[0][0] == (0, partner)


def test_errors():
    with pytest.raises(DeepscopeError, match="'n_inputs'"):
        convac(6, 2, 2)
    with pytest.raises(DeepscopeError, match="'pooling'"):
        convac(8, 2, 2, pooling="diagonal")
    with pytest.raises(DeepscopeError, match="'channels'"):
        convac(8, 2, (2, 2))
    with pytest.raises(DeepscopeError, match="'shallow_terms'"):
        convac(8, 2, (2, 2, 2), kind="shallow")
    with pytest.raises(DeepscopeError, match="'space'"):
        convac(8, 2, 2, space="exp")
    with pytest.raises(DeepscopeError, match="'pool'"):
        relu_convnet(8, 2, 2, pool="min")
    with pytest.raises(DeepscopeError, match="'x'"):
        convac(8, 2, 2)(torch.zeros(1, 2, 4))


def test_construction_leaves_the_global_rng_alone():
    before = torch.random.get_rng_state()
    convac((4, 4), 2, 3, seed=1)
    relu_convnet((4, 4), 2, 3, seed=1)
    assert torch.equal(before, torch.random.get_rng_state())
