"""Invariance (known answer under noise, exact invariance, shifts) and 2-D embeddings."""

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses import representations as rep


def _images(n=400, seed=0):
    return torch.randn(n, 1, 6, 6, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


class _Sum(torch.nn.Module):
    def forward(self, x):
        return x.sum(dim=(-1, -2))


def test_identity_layer_known_answer_under_noise():
    """For f = identity: E|noise|^2 / (2 tr Cov x) = p s^2 / (2 p) = s^2 / 2 for unit data."""
    net = torch.nn.Sequential(torch.nn.Flatten())
    batches = list(_images(4000).split(500))
    r = rep.invariance(net, batches, rep.gaussian_noise(0.5), layers=["0"])
    assert r.sensitivity[0] == pytest.approx(0.125, rel=0.03)
    assert r.n == 4000 and r.invariance[0] == pytest.approx(1 - r.sensitivity[0])


def test_exactly_invariant_layer_scores_zero():
    """Flipping an image left-right leaves its pixel sum unchanged."""
    net = torch.nn.Sequential(torch.nn.Identity(), _Sum())
    r = rep.invariance(net, _images(), lambda x, g: torch.flip(x, dims=(-1,)),
                       layers=["0", "1"])
    assert r.sensitivity[1] == pytest.approx(0.0, abs=1e-12)
    assert r.cka[1] == pytest.approx(1.0, abs=1e-12)
    assert r.sensitivity[0] > 0.5


def test_pixel_shift_moves_by_one_pixel():
    x = torch.zeros(4, 1, 5, 5)
    x[:, :, 2, 2] = 1.0
    out = rep.pixel_shift(1)(x, torch.Generator().manual_seed(0))
    for img in out[:, 0]:
        (r, c), = torch.nonzero(img).tolist()
        assert abs(r - 2) + abs(c - 2) == 1


def test_seeded_and_untouched_model():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 5)).double()
    net.train()
    a = rep.invariance(net, _images(), rep.pixel_shift(), seed=1)
    b = rep.invariance(net, _images(), rep.pixel_shift(), seed=1)
    np.testing.assert_array_equal(a.sensitivity, b.sensitivity)
    assert net.training and a.seed == 1


def test_errors():
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(36, 5)).double()
    with pytest.raises(DeepscopeError, match="'transform'"):
        rep.invariance(net, _images(), lambda x, g: x[:, :, :3])
    with pytest.raises(DeepscopeError, match="'transform'"):
        rep.invariance(net, torch.randn(10, 36, dtype=torch.float64), rep.pixel_shift())
    with pytest.raises(DeepscopeError, match="'std'"):
        rep.gaussian_noise(0.0)


def test_pca_embedding_is_the_top_two_principal_components():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(200, 6, generator=gen, dtype=torch.float64) * torch.tensor(
        [5.0, 3.0, 1.0, 0.5, 0.2, 0.1], dtype=torch.float64)
    e = rep.embed(x)
    assert e.coords.shape == (200, 2)
    np.testing.assert_allclose(np.abs(e.coords), np.abs((x - x.mean(0))[:, :2].numpy()),
                               atol=0.6)
    assert e.explained_variance[0] > e.explained_variance[1]
    assert len(e.tidy()) == 400


def test_tsne_embedding_runs_and_is_seeded():
    x = torch.randn(40, 5, generator=torch.Generator().manual_seed(0))
    a = rep.embed(x, method="tsne", perplexity=5.0, seed=1)
    b = rep.embed(x, method="tsne", perplexity=5.0, seed=1)
    np.testing.assert_array_equal(a.coords, b.coords)
    with pytest.raises(DeepscopeError, match="'perplexity'"):
        rep.embed(x, method="tsne", perplexity=50.0)


@pytest.mark.slow
def test_invariance_on_a_transformers_vit():
    transformers = pytest.importorskip("transformers")
    cfg = transformers.ViTConfig(image_size=8, patch_size=4, num_channels=1, hidden_size=16,
                                 num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32)
    model = transformers.ViTModel(cfg)
    model.train()
    x = torch.randn(40, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    r = rep.invariance(model, x, rep.pixel_shift(1), layers=["layers.*"])
    assert r.layers == ("layers.0", "layers.1")
    assert np.isfinite(r.sensitivity).all() and (r.sensitivity > 0).all()
    assert model.training
