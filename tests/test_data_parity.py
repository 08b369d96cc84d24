import pytest
import torch

from deepscope.data.parity import (
    linear_periodic,
    parity,
    parity_labels,
    random_directions,
    random_subset,
    sign_inputs,
)
from deepscope.errors import DeepscopeError


def test_parity_labels_are_products_and_parities_are_orthogonal():
    x = sign_inputs(4096, 6, seed=0, dtype=torch.float64)
    y = parity_labels(x, [(0, 1), (2,), (0, 1, 2), ()])
    assert torch.equal(y[0], x[:, 0] * x[:, 1]) and torch.equal(y[3], torch.ones(4096,
                                                                                dtype=torch.float64))
    gram = y @ y.T / 4096
    off = gram - torch.diag(torch.diag(gram))
    assert off.abs().max() < 0.06 and torch.allclose(torch.diag(gram), torch.ones(4, dtype=torch.float64))


def test_seeded_and_default_subset_of_about_half():
    a = parity(10, 8, seed=3)
    b = parity(10, 8, seed=3)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert len(random_subset(30, seed=1)) == 15 and random_subset(30, seed=1) == random_subset(30, seed=1)


def test_linear_periodic_and_directions():
    v = random_directions(4, 5, seed=0)
    assert torch.allclose(v.norm(dim=1), torch.ones(4))
    x, y, vv = linear_periodic(100, 5, r=3.0, v=v, seed=1)
    assert y.shape == (4, 100) and torch.allclose(y, torch.cos(3.0 * (x @ vv.T).T), atol=1e-6)


def test_bad_arguments():
    with pytest.raises(DeepscopeError, match="'subsets' parameter of parity_labels"):
        parity_labels(torch.ones(2, 3), (0, 3))
    with pytest.raises(DeepscopeError, match="'r' parameter of linear_periodic"):
        linear_periodic(5, 2, r=0.0)
    with pytest.raises(DeepscopeError, match="'seed' parameter"):
        sign_inputs(3, 2, seed=-1)
