import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import landscape as L
from deepscope.nets import MLP, SmallCNN


def _ls_data(n=20, d=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    return x, y


def _linear(d=3, seed=0):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(d, 1)).double()


def _closed_form_ls(model, d1, d2, x, y, a, b):
    w0 = model[0].weight.detach().numpy()
    b0 = model[0].bias.detach().numpy()
    out = np.empty((len(a), len(b)))
    for i, j in itertools.product(range(len(a)), range(len(b))):
        w = w0 + a[i] * d1["0.weight"].numpy() + b[j] * d2["0.weight"].numpy()
        bb = b0 + a[i] * d1["0.bias"].numpy() + b[j] * d2["0.bias"].numpy()
        r = x.numpy() @ w.T + bb - y.numpy()
        out[i, j] = np.mean(r ** 2)
    return out


@pytest.mark.parametrize("chunk,affine", [(1, False), (1, True), (7, False), (7, True)])
def test_plane_of_least_squares_equals_closed_form(chunk, affine):
    x, y = _ls_data()
    model = _linear()
    d1 = L.random_direction(model, 0, normalization="none", include_biases=True)
    d2 = L.random_direction(model, 1, normalization="none", include_biases=True)
    p = L.loss_plane(model, F.mse_loss, (x, y), d1, d2, steps=(7, 5), span=(2.0, 0.5),
                     chunk=chunk, affine_first=affine)
    a, b = p.coords
    assert p.loss.shape == (7, 5)
    np.testing.assert_allclose(a, np.linspace(-2, 2, 7), atol=1e-15)
    assert a[3] == 0.0 and b[2] == 0.0
    np.testing.assert_allclose(p.loss, _closed_form_ls(model, d1, d2, x, y, a, b),
                               rtol=1e-12, atol=1e-12)
    assert np.isnan(p.accuracy).all()  # regression outputs: no accuracy


def test_center_is_the_models_loss_exactly_and_vmap_equals_one_by_one():
    torch.manual_seed(0)
    model = SmallCNN(channels=(3, 4), hidden=8).eval()
    x = torch.randn(32, 1, 8, 8)
    y = torch.randint(0, 10, (32,))
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    with torch.no_grad():
        exact = float(F.cross_entropy(model(x), y))
    one = L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=(5, 5), chunk=1,
                       affine_first=False)
    assert one.center_loss == exact
    aff = L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=(5, 5), chunk=1)
    vm = L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=(5, 5), chunk=6)
    np.testing.assert_allclose(aff.loss, one.loss, rtol=2e-6)
    np.testing.assert_allclose(vm.loss, one.loss, rtol=2e-6)
    np.testing.assert_allclose(vm.accuracy, one.accuracy)
    assert abs(vm.center_loss - exact) <= 1e-6 * exact


def test_flat_vector_and_list_directions_equal_dict():
    x, y = _ls_data()
    model = _linear()
    d = L.random_direction(model, 3, include_biases=True)
    flat = torch.cat([t.flatten() for t in d.values()])
    a = L.loss_line(model, F.mse_loss, (x, y), d, steps=5)
    b = L.loss_line(model, F.mse_loss, (x, y), flat, steps=5)
    c = L.loss_line(model, F.mse_loss, (x, y), list(d.values()), steps=5)
    np.testing.assert_array_equal(a.loss, b.loss)
    np.testing.assert_array_equal(a.loss, c.loss)
    assert a.center_loss == a.loss[2]
    # a line is the plane's middle column with a zero second direction
    zero = {k: torch.zeros_like(v) for k, v in d.items()}
    p = L.loss_plane(model, F.mse_loss, (x, y), d, zero, steps=(5, 3))
    np.testing.assert_allclose(p.loss[:, 1], a.loss, rtol=1e-14)


def test_zero_directions_give_a_flat_plane():
    torch.manual_seed(1)
    model = MLP((4, 6, 3), activation="tanh")
    x, y = torch.randn(10, 4), torch.randint(0, 3, (10,))
    zero = {n: torch.zeros_like(p) for n, p in model.named_parameters()}
    p = L.loss_plane(model, F.cross_entropy, (x, y), zero, zero, steps=(3, 5))
    assert np.all(p.loss == p.center_loss)


def test_batches_are_sample_weighted():
    x, y = _ls_data(n=23)
    model = _linear()
    d = L.random_direction(model, 0, include_biases=True)
    whole = L.loss_line(model, F.mse_loss, (x, y), d, steps=5)
    parts = [(x[:10], y[:10]), (x[10:13], y[10:13]), (x[13:], y[13:])]
    split = L.loss_line(model, F.mse_loss, parts, d, steps=5)
    np.testing.assert_allclose(split.loss, whole.loss, rtol=1e-12)


# ----------------------------------------------------------------------------- directions


def test_filter_normalisation_matches_each_filters_norm():
    torch.manual_seed(0)
    model = SmallCNN(channels=(3, 4), hidden=8)
    d = L.random_direction(model, 7, normalization="filter")
    assert list(d) == [n for n, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        if p.ndim == 1:
            assert torch.count_nonzero(d[name]) == 0  # biases zeroed, as Li et al.
        else:
            np.testing.assert_allclose(d[name].flatten(1).norm(dim=1).numpy(),
                                       p.detach().flatten(1).norm(dim=1).numpy(), rtol=1e-5)
            assert d[name].shape == p.shape and d[name].dtype == p.dtype
    dl = L.random_direction(model, 7, normalization="layer", include_biases=True)
    for name, p in model.named_parameters():
        assert abs(float(dl[name].norm()) - float(p.detach().norm())) <= 1e-5 * float(
            p.detach().norm()) + 1e-7
    raw = L.random_direction(model, 7, normalization="none")
    assert not torch.equal(raw["conv1.weight"], d["conv1.weight"])
    # filter and layer directions are rescalings of the same Gaussian draw
    cos = F.cosine_similarity(raw["conv1.weight"].flatten(), dl["conv1.weight"].flatten(), 0)
    assert float(cos) > 0.999999


def test_same_seed_same_direction_and_generators():
    model = MLP((5, 4, 2))
    a = L.random_direction(model, 3)
    b = L.random_direction(model, 3)
    c = L.random_direction(model, torch.Generator().manual_seed(3))
    e = L.random_direction(model, 4)
    for k in a:
        assert torch.equal(a[k], b[k]) and torch.equal(a[k], c[k])
    assert not torch.equal(a["fc1.weight"], e["fc1.weight"])


# ----------------------------------------------------------------------------- interpolation


def _trained_mlp(seed, x, y, widths=(64, 16, 10), steps=60):
    torch.manual_seed(seed)
    model = MLP(widths, activation="relu")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return model


@pytest.fixture(scope="module")
def digits_small():
    from deepscope.data import digits

    d = digits(seed=0)
    return d.x_train[:400], d.y_train[:400]


def test_interpolating_a_model_with_itself_is_flat(digits_small):
    x, y = digits_small
    model = _trained_mlp(0, x, y, steps=20)
    path = L.interpolate(model, model, F.cross_entropy, (x, y), steps=9)
    assert path.t[0] == 0.0 and path.t[-1] == 1.0
    np.testing.assert_allclose(path.loss, path.loss[0], rtol=1e-6)
    assert abs(path.barrier) < 1e-6 and abs(path.accuracy_barrier) < 1e-12


def _permuted_copy(model, seed):
    import copy

    g = torch.Generator().manual_seed(seed)
    other = copy.deepcopy(model)
    lin = other.linear_layers
    for a, b in zip(lin[:-1], lin[1:]):
        perm = torch.randperm(a.weight.shape[0], generator=g)
        a.weight.data = a.weight.data[perm]
        a.bias.data = a.bias.data[perm]
        b.weight.data = b.weight.data[:, perm]
    return other


def test_alignment_of_a_permuted_copy_recovers_barrier_zero(digits_small):
    x, y = digits_small
    model = _trained_mlp(0, x, y, widths=(64, 16, 12, 10))
    perm = _permuted_copy(model, 5)
    with torch.no_grad():
        torch.testing.assert_close(perm(x), model(x), rtol=1e-5, atol=1e-5)
    plain = L.interpolate(model, perm, F.cross_entropy, (x, y), steps=11)
    aligned = L.interpolate(model, perm, F.cross_entropy, (x, y), steps=11, align=True)
    assert plain.barrier > 0.05
    assert abs(aligned.barrier) < 1e-5 and aligned.aligned
    assert len(aligned.permutations) == 2
    back = L.align_neurons(model, perm, (x, y))
    live = back.fc1.weight.detach().abs().sum(1) > 0
    with torch.no_grad():  # units dead on the data may match in any order; the rest exactly
        torch.testing.assert_close(back(x), model(x), rtol=1e-5, atol=1e-5)
        h_a, h_b = torch.relu(model.fc1(x)), torch.relu(back.fc1(x))
    alive = h_a.std(0) > 1e-6
    torch.testing.assert_close(h_b[:, alive], h_a[:, alive])
    assert bool(live.any())


@pytest.mark.parametrize("make", [lambda: MLP((64, 12, 9, 10), activation="tanh"),
                                  lambda: SmallCNN(channels=(3, 5), hidden=7)])
def test_aligned_network_computes_the_same_function(make, digits_small):
    x, y = digits_small
    torch.manual_seed(0)
    a, b = make(), make()
    if isinstance(a, SmallCNN):
        x = x.reshape(-1, 1, 8, 8)
    before = {k: v.clone() for k, v in b.state_dict().items()}
    out = L.align_neurons(a, b, (x, y))
    with torch.no_grad():
        torch.testing.assert_close(out(x), b(x), rtol=1e-5, atol=1e-5)
    assert all(torch.equal(before[k], v) for k, v in b.state_dict().items())
    assert any(not torch.equal(p, q) for p, q in zip(out.parameters(), b.parameters()))


def test_alignment_rejects_unsupported_layers():
    a = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))
    with pytest.raises(DeepscopeError, match="cannot permute through '1'"):
        L.align_neurons(a, a, (torch.randn(5, 3), torch.zeros(5)))


# ----------------------------------------------------------------------------- sharpness


class _Quadratic(nn.Module):
    """Outputs its own parameter vector; the loss is 0.5 (w - w*)^T H (w - w*)."""

    def __init__(self, w):
        super().__init__()
        self.w = nn.Parameter(w.clone())

    def forward(self, x):
        return self.w.unsqueeze(0).expand(x.shape[0], -1)


def _quad_loss(h):
    def loss(out, target):
        r = out[0] - target[0]
        return 0.5 * r @ (h @ r)
    return loss


@pytest.mark.parametrize("box", ["relative", "absolute"])
@pytest.mark.parametrize("at_min", [True, False])
def test_sharpness_of_a_separable_quadratic_is_the_closed_form(box, at_min):
    g = torch.Generator().manual_seed(0)
    n = 6
    wstar = torch.randn(n, generator=g, dtype=torch.float64)
    delta = torch.zeros(n, dtype=torch.float64) if at_min else 1e-3 * torch.randn(
        n, generator=g, dtype=torch.float64)
    hdiag = torch.rand(n, generator=g, dtype=torch.float64) * 5 + 0.5
    model = _Quadratic(wstar + delta)
    data = (torch.zeros(1, 1, dtype=torch.float64), wstar[None])
    eps = 1e-2
    res = L.sharpness(model, _quad_loss(torch.diag(hdiag)), data, epsilon=eps, box=box)
    w = (wstar + delta).numpy()
    r = eps * (np.abs(w) + 1) if box == "relative" else np.full(n, eps)
    f0 = 0.5 * float(np.sum(hdiag.numpy() * delta.numpy() ** 2))
    fmax = 0.5 * float(np.sum(hdiag.numpy() * (np.abs(delta.numpy()) + r) ** 2))
    assert res.loss == pytest.approx(f0, rel=1e-12, abs=1e-15)
    assert res.max_loss == pytest.approx(fmax, rel=1e-10)
    assert res.value == pytest.approx(100 * (fmax - f0) / (1 + f0), rel=1e-10)
    lb = L.sharpness(model, _quad_loss(torch.diag(hdiag)), data, epsilon=eps, box=box,
                     method="lbfgsb", steps=50)
    assert lb.max_loss <= fmax * (1 + 1e-9)
    if at_min:
        assert lb.max_loss == pytest.approx(fmax, rel=1e-6)


def test_sharpness_never_exceeds_the_vertex_oracle():
    g = torch.Generator().manual_seed(1)
    n = 5
    a = torch.randn(n, n, generator=g, dtype=torch.float64)
    h = a @ a.T + 0.1 * torch.eye(n, dtype=torch.float64)
    wstar = torch.randn(n, generator=g, dtype=torch.float64)
    model = _Quadratic(wstar)
    data = (torch.zeros(1, 1, dtype=torch.float64), wstar[None])
    res = L.sharpness(model, _quad_loss(h), data, epsilon=0.05, box="absolute", steps=40)
    # a convex function's max over a box sits at a vertex: enumerate all 2^n
    best = max(0.5 * float(torch.tensor(s, dtype=torch.float64) * 0.05 @ h
                           @ (torch.tensor(s, dtype=torch.float64) * 0.05))
               for s in itertools.product((-1.0, 1.0), repeat=n))
    assert res.max_loss <= best * (1 + 1e-9)
    assert res.max_loss >= 0.5 * best  # a local ascent: a vertex, not always the best one


# ----------------------------------------------------------------------------- contract


def test_plane_frame_and_sharpness_evaluations(digits_small):
    # the model-untouched and same-seed checks are the contract suite's (test_contract.py)
    x, y = digits_small
    model = MLP((64, 8, 10))
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    frame = L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=(3, 3)).to_frame()
    assert list(frame.columns) == ["alpha", "beta", "loss", "accuracy"] and len(frame) == 9
    assert L.sharpness(model, F.cross_entropy, (x, y), steps=3, seed=2).n_evals == 5


def test_bad_arguments_raise_the_standard_message():
    model = MLP((3, 4, 2))
    x, y = torch.randn(5, 3), torch.randint(0, 2, (5,))
    d = L.random_direction(model, 0)
    with pytest.raises(DeepscopeError, match=r"The 'steps' parameter of loss_plane must be an "
                                             r"odd int >= 3 .* Got 4\."):
        L.loss_plane(model, F.cross_entropy, (x, y), d, d, steps=4)
    with pytest.raises(DeepscopeError, match=r"The 'span' parameter of loss_line must be"):
        L.loss_line(model, F.cross_entropy, (x, y), d, span=0.0)
    with pytest.raises(DeepscopeError, match=r"The 'normalization' parameter of "
                                             r"random_direction must be one of"):
        L.random_direction(model, 0, normalization="filters")
    with pytest.raises(DeepscopeError, match=r"The 'seed' parameter"):
        L.random_direction(model, -1)
    with pytest.raises(DeepscopeError, match=r"The 'd2' parameter of loss_plane"):
        L.loss_plane(model, F.cross_entropy, (x, y), d, torch.zeros(3))
    with pytest.raises(DeepscopeError, match=r"The 'epsilon' parameter of sharpness"):
        L.sharpness(model, F.cross_entropy, (x, y), epsilon=-1.0)
    with pytest.raises(DeepscopeError, match=r"The 'box' parameter of sharpness"):
        L.sharpness(model, F.cross_entropy, (x, y), box="ball")
    with pytest.raises(DeepscopeError, match=r"The 'data' parameter of interpolate"):
        L.interpolate(model, model, F.cross_entropy, 3)
    with pytest.raises(DeepscopeError, match=r"The 'model' parameter of loss_line"):
        L.loss_line("net", F.cross_entropy, (x, y), d)
    with pytest.raises(DeepscopeError, match="NaN or inf"):
        L.loss_line(model, lambda o, t: o.sum() * float("nan"), (x, y), d, steps=3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_plane_matches_cpu():
    torch.manual_seed(0)
    model = SmallCNN(channels=(3, 4), hidden=8).eval()
    x, y = torch.randn(64, 1, 8, 8), torch.randint(0, 10, (64,))
    d1, d2 = L.random_direction(model, 0), L.random_direction(model, 1)
    cpu = L.loss_plane(model, F.cross_entropy, (x, y), d1, d2, steps=(5, 5))
    gm = model.cuda()
    gd1 = {k: v.cuda() for k, v in d1.items()}
    gd2 = {k: v.cuda() for k, v in d2.items()}
    gpu = L.loss_plane(gm, F.cross_entropy, (x.cuda(), y.cuda()), gd1, gd2, steps=(5, 5))
    np.testing.assert_allclose(gpu.loss, cpu.loss, rtol=1e-4)
    assert L.random_direction(gm, 0)["conv1.weight"].device.type == "cuda"
