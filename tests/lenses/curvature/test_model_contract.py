"""Curvature-specific contract: seeds, modes, frames and bad arguments (the model-untouched
and same-seed checks are the contract suite's, tests/lenses/test_contract.py)."""

import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError, DeepscopeTypeError, DeepscopeValueError
from deepscope.lenses.curvature import (
    HessianOperator,
    hessian_density,
    hessian_eigs,
    hessian_trace,
    hvp,
)

F = torch.nn.functional


def _net():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Tanh(), nn.Dropout(0.3),
                          nn.Linear(6, 3)).double()
    g = torch.Generator().manual_seed(1)
    x = torch.randn(24, 4, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (24,), generator=g)
    return model, x, y


def test_seeds_change_the_probes():
    model, x, y = _net()
    model.eval()
    a = hessian_trace(model, F.cross_entropy, (x, y), rtol=0.2, seed=0)
    b = hessian_trace(model, F.cross_entropy, (x, y), rtol=0.2, seed=1)
    assert a.estimate != b.estimate and a.seed == 0 and b.seed == 1


def test_mode_option_switches_and_restores():
    model, x, y = _net()
    model.train()  # Dropout active: eval-mode operator must be deterministic anyway
    op = HessianOperator(model, F.cross_entropy, (x, y), mode="eval")
    v = torch.randn(op.n_params, dtype=torch.float64)
    hv = op.matvec(v)
    assert all(m.training for m in model.modules())
    model.eval()
    assert torch.allclose(hv, hvp(model, F.cross_entropy, (x, y), v), atol=1e-12)
    model.train()
    out = hessian_eigs(model, F.cross_entropy, (x, y), k=1, mode="eval")
    assert out.n_hvp > 0 and all(m.training for m in model.modules())


def test_results_and_frames():
    model, x, y = _net()
    model.eval()
    eigs = hessian_eigs(model, F.cross_entropy, (x, y), k=2, which="both")
    assert eigs.eigenvalues.shape == (4,) and eigs.eigenvectors.shape == (4, 63)
    assert bool((eigs.eigenvalues[:-1] >= eigs.eigenvalues[1:]).all())
    frame = eigs.to_frame()
    assert list(frame.columns) == ["rank", "eigenvalue", "residual", "converged", "kind"]
    tr = hessian_trace(model, F.cross_entropy, (x, y), rtol=0.2)
    assert tr.to_frame().loc[0, "n_hvp"] == tr.n_hvp and tr.method == "hutch++"
    dens = hessian_density(model, F.cross_entropy, (x, y), n_runs=2, n_iter=5, n_grid=50)
    assert list(dens.to_frame().columns) == ["eigenvalue", "density", "kind"]
    assert len(dens.to_frame()) == 50 and len(dens.nodes_frame()) <= 10


BAD = [
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, k=0), DeepscopeValueError, "'k'"),
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, k=32, which="both"),
     DeepscopeValueError, "'k'"),
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, which="top"), DeepscopeValueError,
     "'which'"),
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, tol=0), DeepscopeValueError, "'tol'"),
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, seed=-1), DeepscopeValueError, "'seed'"),
    (lambda m, d: hessian_eigs(m, F.cross_entropy, d, kind="fisher"), DeepscopeValueError,
     "'kind'"),
    (lambda m, d: hessian_trace(m, F.cross_entropy, d, method="exact"), DeepscopeValueError,
     "'method'"),
    (lambda m, d: hessian_trace(m, F.cross_entropy, d, rtol=1.5), DeepscopeValueError,
     "'rtol'"),
    (lambda m, d: hessian_trace(m, F.cross_entropy, d, max_hvp=5), DeepscopeValueError,
     "'max_hvp'"),
    (lambda m, d: hessian_density(m, F.cross_entropy, d, n_iter=0), DeepscopeValueError,
     "'n_iter'"),
    (lambda m, d: hessian_density(m, F.cross_entropy, d, sigma=0.0), DeepscopeValueError,
     "'sigma'"),
    (lambda m, d: hvp(m, F.cross_entropy, d, torch.ones(3)), DeepscopeValueError, "'vector'"),
    (lambda m, d: hvp(m, F.cross_entropy, d, [1.0]), DeepscopeTypeError, "'vector'"),
    (lambda m, d: hvp(m, F.cross_entropy, 5, torch.ones(63)), DeepscopeTypeError, "'data'"),
    (lambda m, d: hvp(m, F.cross_entropy, [], torch.ones(63)), DeepscopeValueError, "'data'"),
    (lambda m, d: hvp("net", F.cross_entropy, d, torch.ones(63)), DeepscopeTypeError,
     "'model'"),
    (lambda m, d: hvp(m, "ce", d, torch.ones(63)), DeepscopeTypeError, "'loss_fn'"),
    (lambda m, d: hvp(m, lambda o, t: F.cross_entropy(o, t, reduction="none"), d,
                      torch.ones(63)), DeepscopeValueError, "scalar"),
    (lambda m, d: HessianOperator(m, F.cross_entropy, d, parameters=["nope"]),
     DeepscopeValueError, "'parameters'"),
    (lambda m, d: HessianOperator(m, F.cross_entropy, d, mode="test"), DeepscopeValueError,
     "'mode'"),
    (lambda m, d: hvp(m, F.cross_entropy, d, torch.full((63,), float("nan"))),
     DeepscopeValueError, "'vector'"),
]


@pytest.mark.parametrize("call,cls,word", BAD)
def test_bad_arguments_raise(call, cls, word):
    model, x, y = _net()
    model.eval()
    with pytest.raises(cls, match=word) as info:
        call(model, (x, y))
    assert isinstance(info.value, DeepscopeError)


def test_nonfinite_loss_raises():
    model, x, y = _net()
    model.eval()
    x = x.clone()
    x[0, 0] = float("inf")
    with pytest.raises(DeepscopeValueError, match="NaN or inf"):
        hvp(model, F.cross_entropy, (x, y), torch.ones(63, dtype=torch.float64))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model, x, y = _net()
    model.eval()
    cpu = hessian_eigs(model, F.cross_entropy, (x, y), k=2, tol=1e-8)
    gpu = hessian_eigs(model.cuda(), F.cross_entropy, (x, y), k=2, tol=1e-8)  # batches moved
    assert gpu.eigenvectors.is_cuda
    assert torch.allclose(gpu.eigenvalues, cpu.eigenvalues, atol=1e-8)
    tr = hessian_trace(model, F.cross_entropy, (x.cuda(), y.cuda()), rtol=0.2)
    assert tr.estimate == pytest.approx(
        hessian_trace(model.cpu(), F.cross_entropy, (x, y), rtol=0.2).estimate, rel=1e-8)
