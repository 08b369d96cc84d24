"""Known answers of the norm-based generalization measures (Jiang et al. 2020, Appendix C)."""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from deepscope.errors import DeepscopeError
from deepscope.lenses import generalization as gen


def _mlp(seed: int = 0, widths=(3, 5, 4, 2)) -> nn.Sequential:
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1]).double()


def _rescale(model: nn.Sequential, i: int, j: int, c: float) -> nn.Sequential:
    """Layer i (weights and bias) times c, layer j's weights times 1/c: same ReLU function."""
    out = copy.deepcopy(model)
    with torch.no_grad():
        out[i].weight.mul_(c)
        out[i].bias.mul_(c)
        out[j].weight.div_(c)
    return out


def test_parameter_count_by_hand():
    net = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2, bias=False))
    net[2].weight.requires_grad_(False)
    r = gen.parameter_count(net)
    assert (r.total, r.trainable) == (3 * 4 + 4 + 8, 16)
    assert r.layers == ("0", "2") and r.counts == (16, 8)
    tied = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 4))
    tied[1].weight = tied[0].weight
    assert gen.parameter_count(tied).total == 16 + 4 + 4


def test_frobenius_and_spectral_by_hand():
    net = nn.Sequential(nn.Linear(2, 2, bias=False), nn.ReLU(), nn.Linear(2, 1, bias=False))
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[3.0, 0.0], [0.0, 4.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, 2.0]]))
    f = gen.frobenius(net)
    np.testing.assert_allclose(f.norms, [5.0, math.sqrt(5)])
    assert f.product == pytest.approx(5 * math.sqrt(5)) and f.sum == pytest.approx(5 + 5 ** 0.5)
    s = gen.spectral(net)
    np.testing.assert_allclose(s.norms, [4.0, math.sqrt(5)])
    np.testing.assert_allclose(s.operator_norms, s.norms)
    assert s.to_frame().shape == (2, 5) and set(s.tidy().columns) == {"layer", "metric", "value"}


def _paths(net: nn.Sequential, p: float) -> float:
    """Brute force: enumerate every input-output path (and bias-started path)."""
    lins = [m for m in net if isinstance(m, nn.Linear)]
    total = 0.0
    # paths from an input unit, or from the bias of layer k's unit
    for start in range(len(lins)):
        ws = [lin.weight.detach().abs() ** p for lin in lins[start:]]
        b = lins[start].bias.detach().abs() ** p
        sizes = [w.shape[0] for w in ws]
        for units in itertools.product(*[range(s) for s in sizes]):
            tail = 1.0
            for k in range(1, len(ws)):
                tail *= float(ws[k][units[k], units[k - 1]])
            if start == 0:
                total += tail * float(ws[0][units[0]].sum())
            total += tail * float(b[units[0]])
    return total


@pytest.mark.parametrize("p", [1.0, 2.0, 3.0])
def test_path_norm_against_path_enumeration(p):
    net = _mlp(1)
    r = gen.path_norm(net, (3,), p=p)
    assert r.value == pytest.approx(_paths(net, p), rel=1e-10)
    assert r.norm == pytest.approx(r.value ** (1 / p))


@pytest.mark.parametrize("c", [10.0, 0.1])
def test_rescaling_invariance_of_path_norm_and_margin_measures(c):
    net, init = _mlp(2), _mlp(3)
    x = torch.randn(64, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = net(x).argmax(1)
    y[:5] = (y[:5] + 1) % 2  # a few negative margins, so the quantile is not trivial
    a = gen.norm_measures(net, (x, y), init_model=init)
    b = gen.norm_measures(_rescale(net, 0, 2, c), (x, y), init_model=_rescale(init, 0, 2, c))
    invariant = [k for k in a.values if "margin" in k or "path" in k or k == "fro_over_spec"]
    assert len(invariant) == 10
    for k in invariant:
        assert b.values[k] == pytest.approx(a.values[k], rel=1e-9, abs=1e-9), k
    assert gen.path_norm(_rescale(net, 2, 4, c), (3,)).value == pytest.approx(
        gen.path_norm(net, (3,)).value, rel=1e-10)
    # not vacuous: measures without the margin or path form do change
    assert b.values["param_norm"] != pytest.approx(a.values["param_norm"], rel=1e-3)
    assert b.values["log_prod_of_spec"] == pytest.approx(a.values["log_prod_of_spec"])


def test_norm_measures_formulas():
    net = _mlp(4)
    x = torch.randn(50, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    y = net(x).argmax(1)
    m = gen.norm_measures(net, (x, y), quantile=0.1)
    s = gen.spectral(net).norms
    f = gen.frobenius(net).norms
    g = gen.margin(net, (x, y)).value
    d = 3
    v = m.values
    assert v["params"] == gen.parameter_count(net).total
    assert v["inverse_margin"] == pytest.approx(1 / g ** 2)
    assert v["log_prod_of_spec_over_margin"] == pytest.approx(math.log(np.prod(s ** 2) / g ** 2))
    assert v["log_sum_of_fro_over_margin"] == pytest.approx(
        math.log(d * (np.prod(f ** 2) / g ** 2) ** (1 / d)))
    assert v["log_spec_orig_over_margin"] == pytest.approx(
        math.log(np.prod(s ** 2) / g ** 2 * np.sum(f ** 2 / s ** 2)))
    assert math.isnan(v["frobenius_distance"])  # no init model given
    assert set(m.to_frame().columns) == {"measure", "value", "margin_normalised"}


def test_margin_known_values_and_binary():
    lin = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        lin.weight.copy_(torch.eye(3, 2))
    x = torch.tensor([[3.0, 1.0], [0.0, 2.0], [1.0, 4.0]])
    r = gen.margin(lin, (x, torch.tensor([0, 1, 0])), quantile=0.0)
    np.testing.assert_allclose(r.margins, [2.0, 2.0, -3.0])
    assert r.value == -3.0 and r.fraction_negative == pytest.approx(1 / 3)
    one = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        one.weight.fill_(1.0)
    xb = torch.tensor([[2.0], [-1.0]])
    np.testing.assert_allclose(gen.margin(one, (xb, torch.tensor([1, 0]))).margins, [2.0, 1.0])


def test_distance_from_init():
    a, b = _mlp(0), _mlp(0)
    with torch.no_grad():
        step = torch.zeros(4, 5, dtype=torch.float64)
        step[0, 0], step[1, 1] = 3.0, 4.0
        b[2].weight.add_(step)
    r = gen.distance_from_init(b, a)
    np.testing.assert_allclose(r.frobenius, [0.0, 5.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(r.spectral, [0.0, 4.0, 0.0], atol=1e-12)
    assert r.total == pytest.approx(5.0)
    with pytest.raises(DeepscopeError, match="'init_model' parameter of distance_from_init"):
        gen.distance_from_init(a, _mlp(0, widths=(3, 6, 2)))


def _dense(conv: nn.Module, shape: tuple[int, ...]) -> torch.Tensor:
    """The convolution (no bias) as a dense matrix, from its Jacobian on a small input."""
    x = torch.zeros(int(np.prod(shape)), dtype=torch.float64)
    return torch.autograd.functional.jacobian(lambda v: conv(v.reshape(1, *shape)).reshape(-1), x)


@pytest.mark.parametrize("kw,n", [
    (dict(kernel_size=3, padding=1), 5),
    (dict(kernel_size=3, padding=2, dilation=2), 6),
    (dict(kernel_size=5, padding=2, groups=2), 7),
    (dict(kernel_size=(3, 1), padding=(1, 0)), 4),
])
def test_conv_operator_norm_is_exact_for_circular_convolutions(kw, n):
    torch.manual_seed(0)
    conv = nn.Conv2d(4, 6, padding_mode="circular", bias=False, **kw).double()
    s = gen.spectral(conv, input_shape=(4, n, n))
    dense = torch.linalg.matrix_norm(_dense(conv, (4, n, n)), ord=2)
    assert s.exact == (True,)
    assert s.operator_norms[0] == pytest.approx(float(dense), rel=1e-10)


def test_conv1d_operator_norm_exact_and_zero_padding_an_upper_bound():
    torch.manual_seed(1)
    c1 = nn.Conv1d(3, 2, 3, padding=1, padding_mode="circular", bias=False).double()
    dense = torch.linalg.matrix_norm(_dense(c1, (3, 9)), ord=2)
    assert gen.spectral(c1, input_shape=(3, 9)).operator_norms[0] == pytest.approx(float(dense))
    for kw in (dict(padding=1), dict(padding=1, stride=2), dict(padding=0)):
        torch.manual_seed(2)
        conv = nn.Conv2d(2, 3, 3, bias=False, **kw).double()
        s = gen.spectral(conv, input_shape=(2, 6, 6))
        dense = float(torch.linalg.matrix_norm(_dense(conv, (2, 6, 6)), ord=2))
        assert s.exact == (False,)
        assert dense <= s.operator_norms[0] * (1 + 1e-12)
        assert dense >= 0.5 * s.operator_norms[0]  # a bound, and a close one


def test_spectral_through_a_cnn_sees_each_layers_input_size():
    from deepscope.nets.cnn import SmallCNN

    net = SmallCNN() if "in_channels" not in SmallCNN.__init__.__code__.co_varnames else SmallCNN()
    before = copy.deepcopy(net.state_dict())
    net.train()
    s = gen.spectral(net, input_shape=(1, 8, 8))
    assert net.training and all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    conv = [k for k in s.kinds if k == "conv2d"]
    assert conv and np.isfinite(s.operator_norms).all()
    assert np.isnan(gen.spectral(net).operator_norms[[k == "conv2d" for k in s.kinds]]).all()


def test_path_norm_refuses_normalisation_layers_by_name():
    net = nn.Sequential(nn.Linear(3, 4), nn.LayerNorm(4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(DeepscopeError, match=r"module '1' \(LayerNorm\)"):
        gen.path_norm(net, (3,))
    assert math.isnan(gen.norm_measures(net, (torch.randn(8, 3), torch.arange(8) % 2))
                      .values["log_path_norm"])


def test_bad_arguments_name_the_parameter():
    net = _mlp(0)
    with pytest.raises(DeepscopeError, match="'p' parameter of path_norm"):
        gen.path_norm(net, (3,), p=0)
    with pytest.raises(DeepscopeError, match="'input_shape' parameter of path_norm"):
        gen.path_norm(net, "3")
    with pytest.raises(DeepscopeError, match="'input_shape' parameter of spectral"):
        gen.spectral(net, input_shape=(7,))
    with pytest.raises(DeepscopeError, match="'quantile' parameter of margin"):
        gen.margin(net, (torch.randn(4, 3).double(), torch.zeros(4).long()), quantile=2)
    with pytest.raises(DeepscopeError, match="'data' parameter of margin"):
        gen.margin(net, (torch.randn(4, 3).double(), torch.full((4,), 7)))
    with pytest.raises(DeepscopeError, match="'model' parameter of frobenius"):
        gen.frobenius(nn.ReLU())


def test_real_model_vit_from_transformers():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, num_labels=3)
    model = transformers.ViTForImageClassification(cfg).eval()
    s = gen.spectral(model, input_shape=(1, 8, 8))
    assert "conv2d" in s.kinds and np.isfinite(s.operator_norms).all()
    assert gen.parameter_count(model).total == sum(p.numel() for p in model.parameters())
    x = torch.randn(6, 1, 8, 8)
    r = gen.margin(model, (x, torch.tensor([0, 1, 2, 0, 1, 2])))
    assert r.margins.shape == (6,)
    with pytest.raises(DeepscopeError, match="LayerNorm"):
        gen.path_norm(model, (1, 8, 8))
