"""separation_rank and rank_bound: the known answers of Cohen et al. (one-hot templates)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses.tensors import (
    exact_rank,
    grid_tensor,
    partition_indices,
    rank_bound,
    separation_rank,
)
from deepscope.nets import convac

ONE_HOT = torch.eye(2)


def _rank(net, partition):
    return separation_rank(net, partition, templates=ONE_HOT)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("r", [1, 2, 3])
def test_deep_n8_square_and_mirror(r, seed):
    square = convac(8, 2, r, pooling="square", seed=seed)
    mirror = convac(8, 2, r, pooling="mirror", seed=seed)
    full = 1 if r == 1 else 16                  # M^(N/2) = 16 for r >= 2, 1 for r = 1
    cases = [(square, "odd-even", full), (square, "left-right", r),
             (mirror, "left-right", full)]
    for net, part, want in cases:
        res = _rank(net, part)
        assert res.rank == want, (net.tree.pooling, part)
        assert rank_bound(net, part).bound == want
        assert res.method == "exact"
        assert separation_rank(net, part, templates=ONE_HOT, exact=False).rank == want


@pytest.mark.parametrize("z", [1, 3, 16, 40])
def test_shallow_cp_rank_is_min_z_and_m_power(z):
    net = convac(8, 2, z, kind="shallow", seed=4)
    for part in ("odd-even", "left-right", [0, 3, 5, 6], [0, 1], [2]):
        first, second = partition_indices(part, (8,), "t")
        want = min(z, 2 ** min(len(first), len(second)))
        assert _rank(net, part).rank == want, part
        assert rank_bound(net, part).bound == want


def test_shared_shallow_net_is_symmetric_and_capped():
    # every CP term is v (x) ... (x) v: 4 positions per side hold at most C(4 + 1, 1) = 5
    net = convac(8, 2, 16, kind="shallow", shared=True, seed=0)
    assert _rank(net, "left-right").rank == 5
    assert rank_bound(net, "left-right").bound == 16          # an upper bound, not tight


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 5])
def test_deep_n16_r2(seed):
    net = convac(16, 2, 2, seed=seed)
    grid = grid_tensor(net, ONE_HOT)
    assert separation_rank(grid, "odd-even").rank == 256
    assert separation_rank(grid, "left-right").rank == 2
    assert separation_rank(convac(16, 2, 1, seed=seed), "odd-even", templates=ONE_HOT).rank == 1


def test_deep_n16_r2_and_float_svd_undercounting():
    # N = 16, r = 2: 256 on odd-even, 2 on left-right, 1 for r = 1. With seed 0 the odd-even
    # singular values span ~20 decades, beyond float64: the modular path still finds 256,
    # the SVD rule only 94.
    grid = grid_tensor(convac(16, 2, 2, seed=0), ONE_HOT)
    exact = separation_rank(grid, "odd-even")
    svd = separation_rank(grid, "odd-even", exact=False)
    assert exact.rank == 256 and svd.method == "svd" and svd.rank < 256
    assert separation_rank(grid, "left-right").rank == 2
    assert separation_rank(convac(16, 2, 1, seed=0), "odd-even", templates=ONE_HOT).rank == 1
    assert grid_tensor(convac(4, 2, 2), ONE_HOT, exact=False).residues is None


def test_weight_sharing_makes_node_tensors_symmetric():
    # shared weights: the tensor of a pooled pair is symmetric, its span is Sym^2(R^2),
    # so a deep shared net with r = 4 has rank 3 (not 4) on the left-right split of N = 4
    assert _rank(convac(4, 2, 4, seed=0), "left-right").rank == 3
    assert _rank(convac(4, 2, 4, seed=0, shared=False), "left-right").rank == 4


def test_images_2x4():
    # levels: width pairs, height pairs, width pairs: the root splits left from right
    for pooling, lr in (("square", 2), ("mirror", 16)):
        net = convac((2, 4), 2, 2, pooling=pooling, seed=2)
        grid = grid_tensor(net, ONE_HOT)
        assert separation_rank(grid, "left-right").rank == lr == rank_bound(net, "left-right").bound
        assert separation_rank(grid, "checkerboard").rank == 16
        assert separation_rank(grid, "top-bottom").rank == 4


def test_rank_bound_matches_rank_on_random_partitions():
    gen = np.random.default_rng(0)
    for pooling in ("square", "mirror"):
        net = convac(8, 2, 2, pooling=pooling, seed=3)
        grid = grid_tensor(net, ONE_HOT)
        for _ in range(6):
            part = sorted(gen.choice(8, size=int(gen.integers(1, 8)), replace=False).tolist())
            assert separation_rank(grid, part).rank == rank_bound(net, part).bound, part


@pytest.mark.slow
def test_images_4x4():
    for pooling, lr in (("square", 4), ("mirror", 256)):
        net = convac((4, 4), 2, 2, pooling=pooling, seed=2)
        grid = grid_tensor(net, ONE_HOT)
        assert separation_rank(grid, "left-right").rank == lr
        assert separation_rank(grid, "checkerboard").rank == 256
        assert separation_rank(grid, "top-bottom").rank == 2
        assert rank_bound(net, "left-right").bound == lr


def test_exact_path_on_integer_weights():
    # integer weights (identity representation, entries in {-3..3} without 0): the grid is
    # integer and below 2^52, so the rank is exact; it agrees with the SVD and the bound
    net = convac(8, 2, 2, seed=0)
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randint(1, 4, p.shape, generator=gen) *
                    (2 * torch.randint(0, 2, p.shape, generator=gen) - 1))
        net.representation.copy_(torch.eye(2))
    for part, want in (("odd-even", 16), ("left-right", 2)):
        res = _rank(net, part)
        assert res.method == "exact" and math.isnan(res.rtol)
        assert res.rank == want == rank_bound(net, part).bound
        assert separation_rank(net, part, templates=ONE_HOT, exact=False).rank == want
    with pytest.raises(DeepscopeError, match="'exact'"):
        separation_rank(torch.rand(2, 2, 2, dtype=torch.float64), [0], exact=True)


def test_exact_rank_oracle():
    gen = np.random.default_rng(1)
    for rank in (1, 3, 7):
        a = gen.integers(-5, 6, size=(20, rank)) @ gen.integers(-5, 6, size=(rank, 30))
        assert exact_rank(a.astype(float)) == np.linalg.matrix_rank(a) == rank


def test_spectrum_and_effective_ranks():
    eye = torch.eye(4).reshape(2, 2, 2, 2)                   # [A]_{(0,1),(2,3)} = I_4
    res = separation_rank(eye, [0, 1])
    assert res.rank == 4 and res.effective_rank == pytest.approx(4.0)
    assert res.stable_rank == pytest.approx(4.0) and res.gap == math.inf
    assert res.method == "exact"
    noisy = eye + 1e-9 * torch.randn(2, 2, 2, 2, generator=torch.Generator().manual_seed(0))
    soft = separation_rank(noisy, [0, 2], exact=False)
    assert soft.method == "svd" and soft.rtol == pytest.approx(4 * np.finfo(np.float32).eps)
    assert len(soft.to_frame()) == 4
    assert set(soft.tidy().metric) >= {"rank", "effective_rank", "stable_rank"}


def test_partitions_and_errors():
    assert partition_indices("odd-even", (8,), "f") == ((0, 2, 4, 6), (1, 3, 5, 7))
    assert partition_indices("left-right", (2, 4), "f") == ((0, 1, 4, 5), (2, 3, 6, 7))
    assert partition_indices("checkerboard", (2, 2), "f") == ((0, 3), (1, 2))
    assert partition_indices(np.array([True, False, False, True]), (4,), "f")[0] == (0, 3)
    with pytest.raises(DeepscopeError, match="'partition'"):
        partition_indices("top-bottom", (8,), "f")
    with pytest.raises(DeepscopeError, match="'partition'"):
        partition_indices([0, 1, 2, 3], (4,), "f")
    with pytest.raises(DeepscopeError, match="'templates'"):
        separation_rank(convac(4, 2, 2), "odd-even")
    with pytest.raises(DeepscopeError, match="'rtol'"):
        separation_rank(torch.ones(2, 2), [0], rtol=2.0)
    with pytest.raises(DeepscopeError, match="'model'"):
        rank_bound(torch.nn.Linear(2, 2), "odd-even")
