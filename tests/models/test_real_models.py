"""Every lens family on third-party architectures (transformers at random init, timm patterns)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from deepscope import losses
from deepscope.lenses.curvature import HessianOperator, hessian_eigs, hvp
from deepscope.lenses.gradients import gradient_snr
from deepscope.lenses.landscape import loss_line, random_direction
from deepscope.lenses.spectra import analyze_weights, weight_matrices
from tests.models import zoo

pytest.importorskip("transformers")


@functools.cache
def _built(name: str):
    return zoo.build(name)


def build(name: str):
    """A fresh copy of the cached model (tests must not share state they could change)."""
    import copy

    model, batch, loss = _built(name)
    return copy.deepcopy(model), batch, getattr(losses, loss)


def _state(model: nn.Module) -> dict:
    return {k: v.clone() for k, v in model.state_dict().items()}


def _same_state(model: nn.Module, state: dict) -> bool:
    now = model.state_dict()
    return all(torch.equal(now[k], v) for k, v in state.items())


# ------------------------------------------------------------------ losses


def test_causal_lm_equals_the_loss_gpt2_computes_itself():
    model, (inputs, ids), _ = build("gpt2")
    out = model(**inputs, labels=ids)
    assert torch.allclose(losses.causal_lm(out, ids), out.loss, atol=1e-6)
    assert torch.allclose(losses.model_loss(out), out.loss)


def test_causal_lm_ignores_padding_and_counts_tokens():
    z = torch.randn(2, 5, 7, generator=torch.Generator().manual_seed(0))
    ids = torch.tensor([[1, 2, 3, 4, 5], [1, 2, 0, 0, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0]])
    got = losses.causal_lm({"logits": z}, {"input_ids": ids, "attention_mask": mask})
    by_hand = torch.cat([-torch.log_softmax(z[0, :4], -1)[torch.arange(4), ids[0, 1:]],
                         -torch.log_softmax(z[1, :1], -1)[0, ids[1, 1:2]]]).mean()
    assert torch.allclose(got, by_hand, atol=1e-6)
    assert losses.count(losses.causal_lm, {"input_ids": ids, "attention_mask": mask}, 2) == 5
    assert losses.count(losses.cross_entropy, torch.tensor([0, 1, 2]), 3) == 3


def test_logits_of_every_output_kind_and_a_clear_error():
    t = torch.zeros(2, 3)
    for out in (t, (t, None), {"loss": torch.ones(()), "logits": t}, [t]):
        assert losses.logits(out) is t
    with pytest.raises(TypeError, match="holds no logits"):
        losses.logits({"a": 1})
    with pytest.raises(ValueError, match="labels"):
        losses.model_loss({"logits": t})


# ------------------------------------------------------------------ spectra


def test_gpt2_every_conv1d_analysed_and_tied_embedding_once():
    model, _, _ = build("gpt2")
    res = analyze_weights(model, randomize=False)
    frame = res.to_frame()
    # 2 blocks x (c_attn, attn.c_proj, c_fc, mlp.c_proj) + wte + wpe; lm_head is wte's alias
    assert len(frame) == 10
    wte = frame[frame.layer == "transformer.wte"].iloc[0]
    assert wte.aliases == "lm_head"
    assert "lm_head" not in set(frame.layer)
    # every parameter is analysed or listed as skipped with a reason
    analysed = {f"{layer}.weight" for layer in frame.layer} | {"lm_head.weight"}
    skipped = dict(res.skipped)
    names = {n for n, _ in model.named_parameters(remove_duplicate=False)}
    assert names == analysed | set(skipped)
    assert all(skipped.values())
    # Conv1D stores (in, out): its ESD equals that of the same nn.Linear
    conv1d = model.transformer.h[0].mlp.c_fc
    lin = nn.Linear(32, 128)
    with torch.no_grad():
        lin.weight.copy_(conv1d.weight.T)
    i = res.index("transformer.h.0.mlp.c_fc")
    ref = analyze_weights(lin, randomize=False).eigenvalues[0]
    assert np.allclose(res.eigenvalues[i], ref, rtol=1e-4, atol=1e-6)


def test_small_matrices_get_nan_alpha_with_a_reason_never_a_fit_on_few_points():
    model, _, _ = build("bert")
    frame = analyze_weights(model, randomize=False).to_frame()
    head = frame[frame.layer == "classifier"].iloc[0]
    assert head.M == 3 and np.isnan(head.alpha) and "min_evals=8" in head.note
    fitted = frame[frame.n_evals >= 10]
    assert fitted.alpha.notna().all()


def test_depthwise_convs_flagged_and_mha_packed_split():
    model, _, _ = build("mobilenetv3_timm")
    frame = analyze_weights(model, randomize=False).to_frame()
    dw = frame[frame.layer.str.endswith("conv_dw")]
    assert len(dw) == 2 and dw.note.str.contains("depthwise").all()
    mha = nn.Sequential(nn.MultiheadAttention(16, 2), nn.ConvTranspose2d(4, 8, 3),
                        nn.Conv3d(2, 4, 3))
    mats = weight_matrices(mha)
    assert [(m.matrix, m.kind) for m in mats] == [
        ("q", "attention"), ("k", "attention"), ("v", "attention"), ("weight", "linear"),
        ("weight", "conv-transposed"), ("weight", "conv")]


# ------------------------------------------------------------------ curvature


@pytest.mark.parametrize("name", zoo.MODELS)
def test_hessian_vector_product_on_every_model_leaves_it_untouched(name):
    model, batch, loss = build(name)
    state = _state(model)
    op = HessianOperator(model, loss, batch)
    v = torch.randn(op.n_params, generator=torch.Generator().manual_seed(0))
    hv = op.matvec(v)
    assert hv.shape == v.shape and torch.isfinite(hv).all()
    assert op.ad_mode in ("forward-over-reverse", "reverse-over-reverse")
    assert _same_state(model, state) and not model.training
    assert all(p.grad is None for p in model.parameters())
    assert torch._C._len_torch_function_stack() == 0  # substitutes undone
    # composites only where an op has no second-order rule (MobileNetV3's hardsigmoid)
    assert op.substitutes == (name == "mobilenetv3_timm")


@pytest.mark.parametrize("name", ["mobilenetv3_timm", "bert"])
def test_forward_and_reverse_over_reverse_give_the_same_products(name):
    model, batch, loss = build(name)
    model = model.double()
    batch = (batch[0].double() if isinstance(batch[0], torch.Tensor) else batch[0], batch[1])
    # Embedding(padding_idx=...) reports a zero gradient for the padding row although the
    # loss depends on it, so H is not symmetric there: hold the word embeddings fixed
    names = [n for n, _ in model.named_parameters() if "word_embeddings" not in n]
    fwd = HessianOperator(model, loss, batch, parameters=names)
    rev = HessianOperator(model, loss, batch, parameters=names)
    v = torch.randn(fwd.n_params, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fwd.ad_mode, rev.ad_mode = "forward-over-reverse", "reverse-over-reverse"
    fwd.substitutes = rev.substitutes = name == "mobilenetv3_timm"   # hardsigmoid's composite
    a, b = fwd.matvec(v), rev.matvec(v)
    assert torch.allclose(a, b, rtol=1e-8, atol=1e-10 * float(a.abs().max()))


class _NoForwardRule(torch.autograd.Function):
    """A custom op with a backward but no jvp: only reverse-over-reverse works."""

    @staticmethod
    def forward(x):
        return x * x.tanh()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        t = x.tanh()
        return g * (t + x * (1 - t * t))


def test_probe_falls_back_to_double_backward_and_says_so():
    g = torch.Generator().manual_seed(0)
    lin = nn.Linear(4, 3)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            return _NoForwardRule.apply(self.lin(x))

    x, y = torch.randn(8, 4, generator=g), torch.randn(8, 3, generator=g)
    res = hessian_eigs(Net(), losses.mse, (x, y), seed=0)
    assert res.ad_mode == "reverse-over-reverse"
    # the same product as with the op written out (forward-over-reverse)
    v = torch.randn(15, generator=g)
    hv = hvp(Net(), losses.mse, (x, y), v)
    plain = nn.Sequential(lin, nn.Identity())

    def plain_loss(out, y):
        return losses.mse(out * out.tanh(), y)

    assert torch.allclose(hv, hvp(plain, plain_loss, (x, y), v), atol=1e-5)


# ------------------------------------------------------------------ landscape, gradients


def test_loss_line_on_model_outputs_and_dict_inputs():
    model, batch, loss = build("gpt2")
    line = loss_line(model, loss, batch, random_direction(model, 0), steps=3)
    assert np.isfinite(line.loss).all()
    assert "accuracy" not in line.to_frame()  # language-model logits are not class scores
    model, batch, loss = build("bert")
    frame = loss_line(model, loss, batch, random_direction(model, 0), steps=3).to_frame()
    assert frame.accuracy.between(0, 1).all()


def test_gradient_snr_on_dict_batches():
    model, (inputs, y), loss = build("bert")
    batches = [({k: v[i:i + 2] for k, v in inputs.items()}, y[i:i + 2]) for i in (0, 2)]
    state = _state(model)
    res = gradient_snr(model, loss, batches)
    assert np.isfinite(res.total_signal) and len(res.parameters) == len(list(model.parameters()))
    assert _same_state(model, state)
