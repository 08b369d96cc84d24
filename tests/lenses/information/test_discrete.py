"""Plug-in entropy and mutual information, and the binning estimators, against known answers
and a brute-force numpy.unique oracle."""

import math

import numpy as np
import pytest
import torch

from deepscope.lenses.information import entropy, information_plane, mutual_information


def _all_binary_rows(bits=12):
    codes = np.arange(2**bits)
    return ((codes[:, None] >> np.arange(bits)) & 1).astype(np.float64)


# ----------------------------------------------------------------------------- known answers


def test_entropy_of_distinct_and_identical_codes():
    assert entropy(torch.arange(4096)) == pytest.approx(12.0, abs=1e-12)
    assert entropy(np.zeros(4096)) == 0.0
    assert entropy(_all_binary_rows()) == pytest.approx(12.0, abs=1e-12)
    assert entropy(np.ones((4096, 3))) == 0.0


def test_entropy_small_distribution_by_hand():
    # counts 4, 2, 1, 1 of 8: H = 1/2*1 + 1/4*2 + 2 * 1/8*3 = 1.75 bits
    assert entropy([7, 7, 7, 7, -3, -3, 100, 2**40]) == pytest.approx(1.75, abs=1e-12)


def test_entropy_rows_compared_exactly():
    rows = torch.tensor([[0.5, 1.0], [0.5, 1.0], [0.5, 1.0 + 1e-12], [-0.0, 1.0], [0.0, 1.0]],
                        dtype=torch.float64)
    # symbols: (0.5,1) x2, (0.5,1+eps) x1, (0,1) x2 (-0.0 == 0.0)
    expected = -(2 * 0.4 * math.log2(0.4) + 0.2 * math.log2(0.2))
    assert entropy(rows) == pytest.approx(expected, abs=1e-12)


def test_plugin_mi_of_2x2_table():
    # joint counts [[3, 1], [1, 3]] of N = 8; uniform marginals
    x = [0] * 4 + [1] * 4
    y = [0, 0, 0, 1, 0, 1, 1, 1]
    expected = (2 * (3 / 8) * math.log2((3 / 8) / (1 / 4))
                + 2 * (1 / 8) * math.log2((1 / 8) / (1 / 4)))
    assert expected == pytest.approx(1 - (-(0.25 * math.log2(0.25) + 0.75 * math.log2(0.75))))
    assert mutual_information(x, y) == pytest.approx(expected, abs=1e-12)
    assert mutual_information(np.array(y), np.array(x)) == pytest.approx(expected, abs=1e-12)


def test_plugin_mi_of_2x3_table():
    counts = np.array([[2, 1, 1], [0, 1, 3]])
    x = np.repeat([0, 0, 0, 1, 1, 1], counts.ravel())
    y = np.repeat([10, 20, 30, 10, 20, 30], counts.ravel())
    p = counts / counts.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    expected = float((p[nz] * np.log2(p[nz] / (px @ py)[nz])).sum())
    assert mutual_information(x, y) == pytest.approx(expected, abs=1e-12)


def test_plugin_mi_identity_and_independent():
    x = np.arange(64) % 4
    assert mutual_information(x, x) == pytest.approx(2.0, abs=1e-12)
    y = np.arange(64) // 16  # exactly independent of x
    assert mutual_information(x, y) == pytest.approx(0.0, abs=1e-12)


def test_plane_of_distinct_rows_and_constant_layer():
    rows = torch.from_numpy(_all_binary_rows() - 0.5)
    y = torch.from_numpy((_all_binary_rows()[:, :3].sum(1) >= 2).astype(np.int64))
    h_y = entropy(y)
    plane = information_plane({"id": rows, "const": torch.zeros(4096, 5)}, y, bins=2)
    assert plane.i_xt.tolist() == pytest.approx([12.0, 0.0], abs=1e-12)
    assert plane.i_ty.tolist() == pytest.approx([h_y, 0.0], abs=1e-12)
    assert plane.h_y == pytest.approx(h_y, abs=1e-15)
    assert plane.n_samples == 4096


# ----------------------------------------------------------------------------- oracle


def _oracle(a, y, method, bins=30, lo=-1.0, hi=1.0, width=0.07):
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    if method == "binning-width":
        idx = np.floor(a / width)
    else:
        if method == "binning-adaptive":
            lo, hi = a.min(), a.max()
        idx = np.clip(np.floor((a - lo) / (hi - lo) * bins), 0, bins - 1)

    def h(rows):
        _, counts = np.unique(rows, axis=0, return_counts=True)
        p = counts / counts.sum()
        return float(-(p * np.log2(p)).sum())

    h_t, h_y = h(idx), h(y[:, None])
    return h_t, h_t + h_y - h(np.column_stack([idx, y]))


@pytest.mark.parametrize("method", ["binning", "binning-width", "binning-adaptive"])
@pytest.mark.parametrize("width", [1, 3, 12, 40])
def test_binning_matches_numpy_unique_oracle(method, width):
    rng = np.random.default_rng(width)
    a = np.tanh(rng.normal(scale=0.7, size=(600, width)))
    a[:50] = a[50:100]  # repeated rows
    y = rng.integers(0, 3, size=600)
    plane = information_plane({"t": a}, y, method=method, bins=7, bin_width=0.3)
    h_t, i_ty = _oracle(a, y, method, bins=7, width=0.3)
    assert plane.i_xt[0] == pytest.approx(h_t, abs=1e-10)
    assert plane.i_ty[0] == pytest.approx(i_ty, abs=1e-10)


def test_binning_exact_when_codes_overflow_int64():
    # 60 columns of 30 bins (30**60 >> 2**62) and huge unbounded bin indices
    rng = np.random.default_rng(1)
    base = rng.uniform(-1, 1, size=(300, 60))
    a = np.concatenate([base, base[:100]])
    a[-1, -1] = 0.999  # differs from its twin only in the last column, same other bins
    a[-1, :-1] = a[-2, :-1]
    y = np.arange(400) % 2
    plane = information_plane({"t": a}, y)
    h_t, i_ty = _oracle(a, y, "binning")
    assert plane.i_xt[0] == pytest.approx(h_t, abs=1e-10)
    assert plane.i_ty[0] == pytest.approx(i_ty, abs=1e-10)
    big = rng.normal(scale=1e20, size=(200, 3))
    plane = information_plane({"t": np.concatenate([big, big])}, np.arange(400) % 2,
                              method="binning-width")
    assert plane.i_xt[0] == pytest.approx(math.log2(200), abs=1e-10)


def test_binning_formula_edges():
    # bins over [-1, 1): index floor((a + 1) / 2 * 4) clamped; -1 and below -> 0, >= 1 -> 3
    a = np.array([-5.0, -1.0, -0.5 - 1e-9, -0.5, 0.0, 0.49, 0.5, 1.0, 7.0])
    expected_bins = [0, 0, 0, 1, 2, 2, 3, 3, 3]
    # each bin's samples share a label, so I(T;Y) = H(T) = H(Y)
    plane = information_plane({"t": a[:, None]}, np.array(expected_bins), bins=4)
    assert plane.i_xt[0] == pytest.approx(entropy(expected_bins), abs=1e-12)
    assert plane.i_ty[0] == pytest.approx(plane.i_xt[0], abs=1e-12)


def test_binning_width_is_floor_of_ratio():
    a = np.array([-0.071, -0.07, -0.01, 0.0, 0.069, 0.07, 0.2])[:, None]
    labels = np.array([0, 1, 1, 2, 2, 3, 4])  # floor(a / 0.07): -2, -1, -1, 0, 0, 1, 2
    plane = information_plane({"t": a}, labels, method="binning-width", bin_width=0.07)
    assert plane.i_xt[0] == pytest.approx(entropy(labels), abs=1e-12)
    assert plane.i_ty[0] == pytest.approx(entropy(labels), abs=1e-12)


# ----------------------------------------------------------------------------- properties


@pytest.mark.parametrize("method", ["binning", "binning-width", "binning-adaptive", "kde"])
def test_bounds_on_random_layers(method):
    rng = np.random.default_rng(3)
    n = 500
    acts = {f"l{w}": np.tanh(rng.normal(size=(n, w)) * s) for w, s in [(1, 0.1), (3, 1), (8, 3)]}
    y = rng.integers(0, 4, size=n)
    plane = information_plane(acts, y, method=method, noise_variance=0.01)
    tol = 1e-9
    assert np.all(plane.i_xt >= -tol) and np.all(plane.i_xt <= math.log2(n) + tol)
    assert np.all(plane.i_ty >= -tol)
    assert np.all(plane.i_ty <= np.minimum(plane.i_xt, plane.h_y) + tol)
    if method == "kde":
        assert np.all(plane.i_xt_lower <= plane.i_xt + tol)
        assert np.all(plane.i_ty_lower <= plane.i_ty + tol)
        assert np.all(plane.i_ty_lower >= -tol)


def test_invariant_to_sample_permutation_and_label_names():
    rng = np.random.default_rng(4)
    a = rng.uniform(-1, 1, size=(300, 4))
    y = rng.integers(0, 3, size=300)
    perm = rng.permutation(300)
    one = information_plane({"t": a}, y, bins=5)
    two = information_plane({"t": a[perm]}, (y * 7 - 100)[perm], bins=5)
    assert one.i_xt[0] == pytest.approx(two.i_xt[0], abs=1e-12)
    assert one.i_ty[0] == pytest.approx(two.i_ty[0], abs=1e-12)


def test_mi_binning_methods_agree_with_plane():
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, size=(200, 2))
    y = rng.integers(0, 2, size=200)
    for method in ["binning", "binning-width", "binning-adaptive"]:
        plane = information_plane({"t": a}, y, method=method, bins=4, bin_width=0.5)
        mi = mutual_information(a, y, method=method, bins=4, bin_width=0.5)
        assert mi == pytest.approx(plane.i_ty[0], abs=1e-12)
