"""Curvature lens: known answers (quadratic, least squares, dense Hessians of tiny nets)."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from deepscope.errors import DeepscopeError

from deepscope.lenses.curvature import (
    HessianOperator,
    hessian_density,
    hessian_eigs,
    hessian_trace,
    hvp,
)

F = torch.nn.functional


class Quadratic(nn.Module):
    """Outputs its own parameter vector; with ``half_quad`` as loss, H = A exactly."""

    def __init__(self, n):
        super().__init__()
        self.theta = nn.Parameter(torch.randn(n, dtype=torch.float64))

    def forward(self, x):
        return self.theta


def half_quad(out, a):
    return 0.5 * out @ a @ out


def _sym(eigs, seed=0):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(len(eigs), len(eigs), generator=g, dtype=torch.float64))
    return q @ torch.diag(torch.tensor(eigs, dtype=torch.float64)) @ q.T


EIGS = [9.0, 5.0, 3.5, 2.0, 1.0, 0.5, 0.25, 0.1, -0.3, -1.5, -4.0, 0.05, 0.7, 1.6, 2.7, 4.2]


@pytest.fixture(scope="module")
def quad():
    torch.manual_seed(0)
    a = _sym(EIGS)
    return Quadratic(len(EIGS)), a, torch.tensor(sorted(EIGS, reverse=True), dtype=torch.float64)


def _data(a):
    return (torch.zeros(a.shape[0], 1, dtype=torch.float64), a)


def test_quadratic_hvp_and_operator(quad):
    model, a, _ = quad
    v = torch.randn(a.shape[0], dtype=torch.float64)
    assert torch.allclose(hvp(model, half_quad, _data(a), v), a @ v, atol=1e-12)
    op = HessianOperator(model, half_quad, _data(a))
    assert op.n_params == a.shape[0] and op.names == ("theta",)
    vs = torch.randn(3, a.shape[0], dtype=torch.float64)
    assert torch.allclose(op.matmat(vs), vs @ a, atol=1e-12)
    assert op.n_products == 3
    assert torch.allclose(op @ v, a @ v, atol=1e-12)
    assert op.loss() == pytest.approx(float(half_quad(model.theta.detach(), a)))


@pytest.mark.parametrize("which,k", [("largest", 1), ("largest", 4), ("smallest", 3),
                                     ("both", 2)])
def test_quadratic_eigs(quad, which, k):
    model, a, true = quad
    out = hessian_eigs(model, half_quad, _data(a), k=k, which=which, tol=1e-8)
    want = {"largest": true[:k], "smallest": true[-k:],
            "both": torch.cat([true[:k], true[-k:]])}[which]
    assert out.eigenvalues.shape == want.shape
    assert torch.allclose(out.eigenvalues, want, atol=1e-7)
    assert bool(out.converged.all()) and float(out.residuals.max()) <= 1e-8 * 9.0
    # eigenvectors: unit, H v = lambda v, residuals as reported
    v = out.eigenvectors
    assert torch.allclose(v.norm(dim=1), torch.ones(len(want), dtype=torch.float64))
    res = (v @ a - out.eigenvalues[:, None] * v).norm(dim=1)
    assert torch.allclose(res, out.residuals, atol=1e-9)
    assert out.n_hvp <= len(EIGS) + 1


def test_negative_eigenvalues_found(quad):
    model, a, _ = quad
    out = hessian_eigs(model, half_quad, _data(a), k=1, which="smallest", tol=1e-6)
    assert out.eigenvalues.item() == pytest.approx(-4.0, abs=1e-6)


def test_quadratic_trace(quad):
    model, a, _ = quad
    tr = float(torch.trace(a))
    exact = hessian_trace(model, half_quad, _data(a), sketch=len(EIGS))
    assert exact.estimate == pytest.approx(tr, abs=1e-9) and exact.stderr == 0.0
    assert exact.n_hvp == 2 * len(EIGS)
    for method in ("hutch++", "hutchinson"):
        est = hessian_trace(model, half_quad, _data(a), method=method, rtol=0.05, sketch=4,
                            max_hvp=5000)
        assert est.complete and est.stderr <= 0.05 * abs(est.estimate)
        assert abs(est.estimate - tr) <= 4 * est.stderr


def test_quadratic_density_full_lanczos(quad):
    model, a, true = quad
    dens = hessian_density(model, half_quad, _data(a), n_runs=2, n_iter=len(EIGS), n_grid=400)
    assert dens.nodes.shape == (2, len(EIGS)) and dens.n_hvp == 2 * len(EIGS)
    for r in range(2):  # a full Lanczos run recovers every eigenvalue
        assert torch.allclose(dens.nodes[r].sort().values, true.sort().values, atol=1e-8)
        assert dens.weights[r].sum().item() == pytest.approx(1.0)
    assert torch.trapezoid(dens.density, dens.grid).item() == pytest.approx(1.0)
    assert dens.grid[0] < -4.0 < 9.0 < dens.grid[-1]
    # second moment of a full run: v^T A^2 v with |v|^2 = 1 and v Rademacher / sqrt(P)
    assert dens.moment(0) == pytest.approx(1.0)


def test_density_mean_is_unbiased_trace(quad):
    model, a, _ = quad
    dens = hessian_density(model, half_quad, _data(a), n_runs=200, n_iter=3, seed=3)
    per_run = (dens.weights * dens.nodes).sum(1)
    err = per_run.std().item() / math.sqrt(200)
    assert abs(per_run.mean().item() - torch.trace(a).item() / len(EIGS)) <= 4 * err
    assert dens.moment(1) == pytest.approx(per_run.mean().item())


# ----------------------------------------------------------------------------- least squares


def _least_squares(n=40, d=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d, generator=g, dtype=torch.float64)
    y = torch.randn(n, 1, generator=g, dtype=torch.float64)
    model = nn.Linear(d, 1, bias=False).double()
    return model, x, y


def test_least_squares_hessian_is_xtx_over_n():
    model, x, y = _least_squares()
    h = 2 * x.T @ x / x.shape[0]  # mean squared error
    for v in torch.eye(5, dtype=torch.float64):
        assert torch.allclose(hvp(model, F.mse_loss, (x, y), v), h @ v, atol=1e-12)
    out = hessian_eigs(model, F.mse_loss, (x, y), k=5, tol=1e-10)
    assert torch.allclose(out.eigenvalues, torch.linalg.eigvalsh(h).flip(0), atol=1e-9)
    # the linear model's Gauss-Newton matrix is its Hessian
    g = HessianOperator(model, F.mse_loss, (x, y), kind="gauss-newton")
    v = torch.randn(5, dtype=torch.float64)
    assert torch.allclose(g.matvec(v), h @ v, atol=1e-12)


def test_dataloader_accumulation_equals_full_batch():
    model, x, y = _least_squares(n=43)
    model = nn.Sequential(nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 1)).double()
    v = torch.randn(sum(p.numel() for p in model.parameters()), dtype=torch.float64)
    full = hvp(model, F.mse_loss, (x, y), v)
    loader = DataLoader(TensorDataset(x, y), batch_size=10)  # 10, 10, 10, 10, 3
    assert torch.allclose(hvp(model, F.mse_loss, loader, v), full, atol=1e-12)
    batches = [(x[:30], y[:30]), (x[30:], y[30:])]
    assert torch.allclose(hvp(model, F.mse_loss, iter(batches), v), full, atol=1e-12)
    for kind in ("hessian", "gauss-newton"):
        a = HessianOperator(model, F.mse_loss, loader, kind=kind).matvec(v)
        b = HessianOperator(model, F.mse_loss, (x, y), kind=kind).matvec(v)
        assert torch.allclose(a, b, atol=1e-12)
    tr_full = hessian_trace(model, F.mse_loss, (x, y), seed=1)
    tr_loader = hessian_trace(model, F.mse_loss, loader, seed=1)
    assert tr_loader.estimate == pytest.approx(tr_full.estimate, rel=1e-10)


# ----------------------------------------------------------------------------- tiny nets


def _tiny_net(seed=0, widths=(4, 6, 3), act=nn.Tanh):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(widths[0], widths[1]), act(),
                          nn.Linear(widths[1], widths[2])).double()
    g = torch.Generator().manual_seed(seed + 1)
    x = torch.randn(32, widths[0], generator=g, dtype=torch.float64)
    y = torch.randint(0, widths[2], (32,), generator=g)
    return model, x, y


def _dense(model, loss_fn, x, y, names=None):
    params = {n: p.detach() for n, p in model.named_parameters()}
    names = names or list(params)

    def f(*ps):
        full = dict(params)
        full.update(zip(names, ps))
        return loss_fn(torch.func.functional_call(model, full, (x,)), y)

    blocks = torch.autograd.functional.hessian(f, tuple(params[n] for n in names))
    sizes = [params[n].numel() for n in names]
    return torch.cat([torch.cat([blocks[i][j].reshape(sizes[i], sizes[j])
                                 for j in range(len(names))], 1) for i in range(len(names))])


@pytest.fixture(scope="module")
def tiny():
    model, x, y = _tiny_net()
    h = _dense(model, F.cross_entropy, x, y)
    return model, x, y, h, torch.linalg.eigvalsh(h)


def test_tiny_net_hvp_matches_dense(tiny):
    model, x, y, h, _ = tiny
    v = torch.randn(h.shape[0], dtype=torch.float64)
    assert torch.allclose(hvp(model, F.cross_entropy, (x, y), v), h @ v, atol=1e-12)


@pytest.mark.parametrize("which", ["largest", "smallest", "both"])
def test_tiny_net_eigs_match_dense(tiny, which):
    model, x, y, h, ev = tiny
    out = hessian_eigs(model, F.cross_entropy, (x, y), k=3, which=which, tol=1e-9)
    want = {"largest": ev[-3:].flip(0), "smallest": ev[:3].flip(0),
            "both": torch.cat([ev[-3:].flip(0), ev[:3].flip(0)])}[which]
    assert torch.allclose(out.eigenvalues, want, atol=1e-8)
    assert bool(out.converged.all())
    if which != "largest":
        assert out.eigenvalues.min() < 0  # a tanh net at init is not at a minimum


def test_tiny_net_eigs_with_restarts(tiny):
    model, x, y, h, ev = tiny
    # a small basis forces thick restarts; the answers stay exact
    from deepscope.lenses.curvature import lanczos as kry

    op = HessianOperator(model, F.cross_entropy, (x, y))
    out = kry.lanczos_eigs(op.matvec, op.n_params, k=4, which="largest", tol=1e-9,
                           max_iter=2000, max_basis=12, generator=torch.Generator().manual_seed(0),
                           like=torch.empty(0, dtype=torch.float64))
    assert bool(out.converged.all())
    assert torch.allclose(out.values, ev[-4:].flip(0), atol=1e-8)


def test_tiny_net_trace_and_density(tiny):
    model, x, y, h, ev = tiny
    p = h.shape[0]
    tr = torch.trace(h).item()
    exact = hessian_trace(model, F.cross_entropy, (x, y), sketch=p)
    assert exact.estimate == pytest.approx(tr, rel=1e-10)
    for method in ("hutch++", "hutchinson"):
        est = hessian_trace(model, F.cross_entropy, (x, y), method=method, rtol=0.02,
                            max_hvp=20000, sketch=10)
        assert est.complete and abs(est.estimate - tr) <= 4 * est.stderr
    dens = hessian_density(model, F.cross_entropy, (x, y), n_runs=1, n_iter=p)
    live = dens.nodes[dens.weights > 1e-12]
    # every node of a full run is an eigenvalue of H
    assert all(float((ev - n).abs().min()) < 1e-8 for n in live)
    assert dens.moment(0) == pytest.approx(1.0)


def test_gauss_newton_is_psd_and_equals_jt_hl_j():
    model, x, y = _tiny_net(seed=2)
    params = {n: p.detach() for n, p in model.named_parameters()}
    names = list(params)

    def outputs(*ps):
        return torch.func.functional_call(model, dict(zip(names, ps)), (x,))

    jac = torch.autograd.functional.jacobian(outputs, tuple(params.values()))
    j = torch.cat([b.reshape(x.shape[0] * 3, -1) for b in jac], 1)  # (n*C, P)
    out = outputs(*params.values()).detach()
    hl = torch.autograd.functional.hessian(lambda o: F.cross_entropy(o, y), out)
    hl = hl.reshape(x.shape[0] * 3, x.shape[0] * 3)
    g = j.T @ hl @ j
    v = torch.randn(g.shape[0], dtype=torch.float64)
    op = HessianOperator(model, F.cross_entropy, (x, y), kind="gauss-newton")
    assert torch.allclose(op.matvec(v), g @ v, atol=1e-12)
    ev = torch.linalg.eigvalsh(g)
    assert ev.min() > -1e-12
    top = hessian_eigs(model, F.cross_entropy, (x, y), k=2, kind="gauss-newton", tol=1e-9)
    assert torch.allclose(top.eigenvalues, ev[-2:].flip(0), atol=1e-8)
    dens = hessian_density(model, F.cross_entropy, (x, y), kind="gauss-newton", n_runs=2,
                           n_iter=20)
    assert dens.kind == "gauss-newton" and float(dens.nodes.min()) > -1e-10
    assert torch.trapezoid(dens.density, dens.grid).item() == pytest.approx(1.0)


def test_parameter_subset_is_the_dense_block(tiny):
    model, x, y, _, _ = tiny
    names = ["2.weight", "2.bias"]
    h = _dense(model, F.cross_entropy, x, y, names=names)
    op = HessianOperator(model, F.cross_entropy, (x, y), parameters=names)
    assert op.n_params == h.shape[0] == 21
    v = torch.randn(21, dtype=torch.float64)
    assert torch.allclose(op.matvec(v), h @ v, atol=1e-12)
    out = hessian_eigs(model, F.cross_entropy, (x, y), k=2, tol=1e-9, parameters=["2.*"])
    assert torch.allclose(out.eigenvalues, torch.linalg.eigvalsh(h)[-2:].flip(0), atol=1e-8)


def test_float32_cnn_top_eigenvalue():
    from deepscope.nets import SmallCNN

    torch.manual_seed(0)
    model = SmallCNN(channels=(2, 3), hidden=5)
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(16, 1, 8, 8, generator=g), torch.randint(0, 10, (16,), generator=g)
    h = _dense(model.double(), F.cross_entropy, x.double(), y)
    model.float()
    out = hessian_eigs(model, F.cross_entropy, (x, y), k=2, tol=1e-4)
    want = torch.linalg.eigvalsh(h)[-2:].flip(0)
    assert torch.allclose(out.eigenvalues, want, rtol=1e-3)
    assert out.eigenvectors.dtype == torch.float32


def test_progress_counts_every_product_and_shows_the_time_per_product():
    import contextlib

    from deepscope.lenses.curvature import hessian_density, hessian_eigs, hessian_trace

    events = []

    class Task:
        def advance(self, n=1):
            events.append(("advance", n))

        def update(self, **kw):
            events.append(("update", kw.get("description", "")))

    @contextlib.contextmanager
    def factory(description, total):
        events.append(("open", description, total))
        yield Task()

    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2))
    data = (torch.randn(20, 3, generator=g), torch.randint(0, 2, (20,), generator=g))
    loss = torch.nn.functional.cross_entropy
    for fn, kw, count in [(hessian_eigs, {"k": 2}, "n_hvp"), (hessian_trace, {"sketch": 4},
                                                                   "n_hvp"),
                          (hessian_density, {"n_runs": 2, "n_iter": 5}, "n_hvp")]:
        events.clear()
        res = fn(model, loss, data, progress=factory, **kw)
        assert events[0][0] == "open"
        assert sum(e[1] for e in events if e[0] == "advance") == getattr(res, count)
        assert any("s/product" in e[1] for e in events if e[0] == "update")
    with pytest.raises(DeepscopeError, match="'progress' parameter of hessian_eigs"):
        hessian_eigs(model, loss, data, progress="yes")
