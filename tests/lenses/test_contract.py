"""The contract suite: every registered lens, checked on its tiny case (DESIGN.md, tests 4).

A lens joins by calling :func:`deepscope.lenses.registry.register_lens` in its family's
``__init__``; nothing here names a lens.
"""

from __future__ import annotations

import copy

import pandas as pd
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses.registry import lenses

SPECS = lenses()
IDS = [s.name for s in SPECS]


def _call(spec, case=None, **override):
    case = spec.case() if case is None else case
    return spec.func(*case.args, **{**case.kwargs, **override})


def _snapshot(model):
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    modes = {n: m.training for n, m in model.named_modules()}
    grads = {n: None if p.grad is None else p.grad.detach().clone()
             for n, p in model.named_parameters()}
    hooks = {n: (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
             for n, m in model.named_modules()}
    req = {n: p.requires_grad for n, p in model.named_parameters()}
    return state, modes, grads, hooks, req


def _same_snapshot(a, b):
    sa, ma, ga, ha, ra = a
    sb, mb, gb, hb, rb = b
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), f"state {k} changed"
    assert ma == mb, "training/eval mode changed"
    for k in ga:
        assert (ga[k] is None) == (gb[k] is None), f".grad of {k} changed"
        if ga[k] is not None:
            assert torch.equal(ga[k], gb[k]), f".grad of {k} changed"
    assert ha == hb, "hooks left behind"
    assert ra == rb, "requires_grad changed"


def _tidy_table(result) -> pd.DataFrame:
    return result.tidy()


def test_registry_is_consistent():
    for spec in SPECS:
        assert spec.name.startswith(spec.family + ".")
        assert callable(spec.func) and callable(spec.case)


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_result_contract(spec):
    result = _call(spec)
    if not spec.tidy:
        return
    assert getattr(result, "lens", None) == spec.name
    frame = result.to_frame()
    assert isinstance(frame, pd.DataFrame) and len(frame) > 0
    tidy = _tidy_table(result)
    assert isinstance(tidy, pd.DataFrame) and len(tidy) > 0
    assert {"layer", "metric", "value"} <= set(tidy.columns)
    assert pd.api.types.is_numeric_dtype(tidy["value"])


@pytest.mark.parametrize("spec", SPECS, ids=IDS)
def test_same_seed_same_result(spec):
    a, b = _call(spec), _call(spec)
    if not spec.tidy:
        assert torch.equal(torch.as_tensor(a), torch.as_tensor(b))
        return
    pd.testing.assert_frame_equal(_tidy_table(a), _tidy_table(b))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.case().model is not None],
                         ids=[s.name for s in SPECS if s.case().model is not None])
@pytest.mark.parametrize("mode", ["train", "eval", "mixed"])
def test_model_untouched(spec, mode):
    case = spec.case()
    model = case.model
    model.train(mode != "eval")
    if mode == "mixed":   # one submodule in the other mode: each flag must come back as it was
        next(iter(model.children()), model).eval()
    for p in model.parameters():
        if p.requires_grad:
            p.grad = torch.full_like(p, 0.25)
    before = _snapshot(model)
    _call(spec, case)
    _same_snapshot(before, _snapshot(model))


@pytest.mark.parametrize("spec", [s for s in SPECS if s.bad],
                         ids=[s.name for s in SPECS if s.bad])
def test_bad_arguments_name_the_parameter(spec):
    for override, name in spec.bad:
        with pytest.raises(DeepscopeError) as info:
            _call(spec, **copy.copy(override))
        message = str(info.value)
        assert repr(name) in message or f"'{name}'" in message, message
        assert "Got" in message or "must" in message, message
