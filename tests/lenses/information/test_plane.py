"""information_plane, the stacked fast path, the streaming accumulator, errors and devices."""

import math

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError, DeepscopeTypeError, DeepscopeValueError
from deepscope.lenses.information import (
    BinnedInformation,
    InformationPlane,
    entropy,
    information_plane,
    information_plane_stacked,
    mutual_information,
)

BINNING = ["binning", "binning-width", "binning-adaptive"]


def _seeds(n=512, width=6):
    """Five seeds with very different activation distributions (one constant)."""
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, n, width, generator=g)
    scale = torch.tensor([0.05, 0.5, 3.0, 30.0, 0.0])[:, None, None]
    shift = torch.tensor([0.0, 0.2, -0.5, 0.0, 0.3])[:, None, None]
    return torch.tanh(z * scale) + shift, torch.randint(0, 3, (n,), generator=g)


@pytest.mark.parametrize("method", BINNING)
def test_stacked_equals_per_seed_exactly(method):
    acts, y = _seeds()
    stacked = information_plane_stacked(acts, y, method=method, bins=12, bin_width=0.05)
    assert set(stacked.measures()) == {"i_xt", "i_ty"}
    assert stacked.i_xt.dtype == torch.float64 and stacked.i_xt.shape == (5,)
    for s in range(5):
        one = information_plane({"t": acts[s]}, y, method=method, bins=12, bin_width=0.05)
        assert stacked.i_xt[s].item() == one.i_xt[0]
        assert stacked.i_ty[s].item() == one.i_ty[0]
        alone = information_plane_stacked(acts[s:s + 1], y, method=method, bins=12,
                                          bin_width=0.05)
        assert alone.i_xt.item() == one.i_xt[0] and alone.i_ty.item() == one.i_ty[0]
    assert stacked.i_xt[4].item() == 0.0 and stacked.i_ty[4].item() == 0.0
    assert len(set(stacked.i_xt.tolist())) == 5


def test_plane_result_and_frame():
    acts, y = _seeds()
    mapping = {"a": acts[0], "b": acts[1], "c": acts[2]}
    plane = information_plane(mapping, y, layers=["c", "a"], bins=10)
    assert isinstance(plane, InformationPlane)
    assert plane.layers == ("c", "a") and plane.method == "binning"
    assert plane.params == {"bins": 10, "range": (-1.0, 1.0)}
    assert plane.h_y == pytest.approx(entropy(y)) and plane.i_xt_lower is None
    frame = plane.to_frame()
    assert list(frame.columns) == ["layer", "i_xt", "i_ty", "method", "degenerate"]
    assert frame["layer"].tolist() == ["c", "a"]
    kde = information_plane(mapping, y, method="kde", noise_variance=0.1).to_frame()
    assert list(kde.columns) == ["layer", "i_xt", "i_ty", "i_xt_lower", "i_ty_lower", "method",
                                 "degenerate"]
    assert kde["layer"].tolist() == ["a", "b", "c"]


def test_numpy_and_torch_and_trailing_dims_agree():
    acts, y = _seeds()
    conv = acts[2].reshape(512, 2, 3, 1)
    a = information_plane({"t": conv}, y)
    b = information_plane({"t": acts[2].numpy()}, y.numpy())
    assert a.i_xt[0] == b.i_xt[0] and a.i_ty[0] == b.i_ty[0]


@pytest.mark.parametrize("method", ["binning", "binning-width"])
def test_streaming_equals_one_shot(method):
    acts, y = _seeds()
    mapping = {"a": acts[1], "b": acts[2]}
    acc = BinnedInformation(method=method, bins=9, bin_width=0.1)
    for start in range(0, 512, 100):
        acc.update({k: v[start:start + 100] for k, v in mapping.items()}, y[start:start + 100])
    streamed = acc.compute()
    whole = information_plane(mapping, y, method=method, bins=9, bin_width=0.1)
    np.testing.assert_allclose(streamed.i_xt, whole.i_xt, rtol=0, atol=1e-12)
    np.testing.assert_allclose(streamed.i_ty, whole.i_ty, rtol=0, atol=1e-12)
    assert streamed.h_y == pytest.approx(whole.h_y, abs=1e-12)
    assert streamed.n_samples == 512 and streamed.layers == ("a", "b")
    assert streamed.params == whole.params
    acc.reset()
    with pytest.raises(DeepscopeValueError, match="before any update"):
        acc.compute()


def test_streaming_rejects_adaptive_and_mismatched_batches():
    with pytest.raises(DeepscopeValueError, match="cannot be streamed"):
        BinnedInformation(method="binning-adaptive")
    acc = BinnedInformation()
    acc.update({"fc1": torch.zeros(4, 3)}, torch.tensor([0, 1, 0, 1]))
    with pytest.raises(DeepscopeValueError, match="Activations of layer 'fc1' have 2 units"):
        acc.update({"fc1": torch.zeros(4, 2)}, torch.tensor([0, 1, 0, 1]))
    with pytest.raises(DeepscopeValueError, match="integer labels"):
        acc.update({"fc1": torch.zeros(4, 3)}, torch.tensor([0.0, 1.0, 0.0, 1.0]))


# ----------------------------------------------------------------------------- errors


def test_bad_parameters_raise_standard_messages():
    x, y = np.zeros((10, 2)), np.zeros(10, dtype=int)
    with pytest.raises(DeepscopeValueError) as err:
        mutual_information(x, y, method="bogus")
    assert str(err.value) == (
        "The 'method' parameter of mutual_information must be one of {'plugin', 'binning', "
        "'binning-width', 'binning-adaptive', 'kde', 'ksg'}. Got 'bogus'.")
    with pytest.raises(DeepscopeValueError) as err:
        mutual_information(x, y, method="binning", bins=0)
    assert str(err.value) == (
        "The 'bins' parameter of mutual_information must be an int in [2, 100000]. Got 0.")
    with pytest.raises(DeepscopeTypeError, match="'bins' parameter"):
        information_plane({"a": x}, y, bins=3.5)
    with pytest.raises(DeepscopeValueError) as err:
        information_plane({"a": x}, y, method="binning-width", bin_width=-0.1)
    assert str(err.value) == ("The 'bin_width' parameter of information_plane must be a "
                              "finite float in (0, inf). Got -0.1.")
    with pytest.raises(DeepscopeValueError, match="'noise_variance' parameter"):
        information_plane_stacked(x[None], y, method="kde", noise_variance=0.0)
    with pytest.raises(DeepscopeValueError, match="'range' parameter"):
        information_plane({"a": x}, y, range=(1.0, -1.0))
    with pytest.raises(DeepscopeValueError, match="'method' parameter of information_plane"):
        information_plane({"a": x}, y, method="plugin")


def test_bad_data_raise_with_layer_names():
    y = np.zeros(10, dtype=int)
    good, bad = np.zeros((10, 3)), np.zeros((10, 3))
    bad[4, 1] = np.nan
    with pytest.raises(DeepscopeValueError) as err:
        information_plane({"fc1": good, "fc3": bad}, y)
    assert str(err.value) == "Activations of layer 'fc3' contain NaN."
    bad[4, 1] = np.inf
    with pytest.raises(DeepscopeValueError, match="'fc3' contain inf"):
        information_plane({"fc3": bad}, y, method="kde")
    with pytest.raises(DeepscopeValueError) as err:
        information_plane({"fc1": good, "fc2": np.zeros((9, 3))}, y)
    assert str(err.value) == "Activations of layer 'fc2' have 9 samples but y has 10."
    with pytest.raises(DeepscopeValueError, match="'fc7' contain NaN"):
        information_plane_stacked(np.full((2, 10, 3), np.nan), y, layer="fc7")
    with pytest.raises(DeepscopeValueError, match="have 10 samples but y has 9"):
        information_plane_stacked(np.zeros((2, 10, 3)), y[:9])
    with pytest.raises(DeepscopeValueError, match="'layers' parameter"):
        information_plane({"fc1": good}, y, layers=["fc9"])
    with pytest.raises(DeepscopeTypeError, match="'activations' parameter"):
        information_plane([good], y)
    with pytest.raises(DeepscopeTypeError, match="'x' parameter"):
        mutual_information(np.array(["a", "b"]), [0, 1])
    with pytest.raises(DeepscopeValueError, match="Values of 'x' in mutual_information"):
        mutual_information([0.0, 1.0, 2.0], [0, 1])
    with pytest.raises(DeepscopeError):
        entropy([])


def test_k_validation():
    x = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises(DeepscopeValueError, match="'k' parameter of mutual_information"):
        mutual_information(x, x, method="ksg", k=10)
    with pytest.raises(DeepscopeValueError, match="'k' parameter"):
        mutual_information(x, x, method="ksg", k=0)
    with pytest.raises(DeepscopeValueError, match="smallest class"):
        information_plane({"a": x}, [0] * 7 + [1] * 3, method="ksg", inputs=x)
    with pytest.raises(DeepscopeValueError, match="'inputs' parameter"):
        information_plane({"a": x}, [0] * 5 + [1] * 5, method="ksg")


# ----------------------------------------------------------------------------- devices


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@cuda
@pytest.mark.parametrize("method", BINNING + ["kde", "ksg"])
def test_cuda_equals_cpu(method):
    acts, y = _seeds()
    x = torch.randn(512, 4, generator=torch.Generator().manual_seed(1))
    kw = {"method": method, "bins": 12, "bin_width": 0.05, "noise_variance": 0.01, "inputs": x}
    cpu = information_plane_stacked(acts, y, **kw)
    kw["inputs"] = x.cuda()
    gpu = information_plane_stacked(acts.cuda(), y.cuda(), **kw)
    for key, value in cpu.measures().items():
        assert gpu.measures()[key].device.type == "cuda"
        # same partition of the samples; only the last float digits of the sums may differ
        tol = 1e-13 if method in BINNING else 1e-9
        torch.testing.assert_close(gpu.measures()[key].cpu(), value, rtol=tol, atol=tol)


@cuda
def test_cuda_kde_memory_at_4096():
    h = torch.randn(1, 4096, 10, device="cuda")
    y = (torch.arange(4096, device="cuda") % 2)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    information_plane_stacked(h, y, method="kde")
    assert torch.cuda.max_memory_allocated() - base < 256 * 2**20
    assert math.isfinite(entropy(y))
