"""Linear probes: separable features score 1.0, random labels score chance; control tasks."""

import numpy as np
import pytest
import torch

from deepscope.errors import DeepscopeError
from deepscope.lenses import representations as rep


def _separable(n=600, classes=5, p=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    y = torch.randint(0, classes, (n,), generator=gen)
    centres = torch.randn(classes, p, generator=gen, dtype=torch.float64) * 8
    return centres[y] + torch.randn(n, p, generator=gen, dtype=torch.float64), y


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_separable_features_score_one(method):
    x, y = _separable()
    r = rep.linear_probe(x, y, method=method)
    assert r.accuracy[0] == 1.0 and r.train_accuracy[0] == 1.0
    assert r.control_accuracy[0] < 0.4  # every input its own type: held-out control is chance
    assert r.selectivity[0] > 0.6


@pytest.mark.parametrize("method", ["ridge", "logistic"])
def test_random_labels_score_chance(method):
    x, _ = _separable(n=1000, classes=10)
    y = torch.randint(0, 10, (1000,), generator=torch.Generator().manual_seed(5))
    r = rep.linear_probe(x, y, method=method, control=False)
    assert abs(r.accuracy[0] - 0.1) < 0.08
    assert np.isnan(r.control_accuracy[0])


def test_control_with_types_rewards_memorising_probes():
    """Copies of the same input share a control label: a probe that separates the inputs
    (here, one-hot identity features) scores high on the control task, so selectivity ~ 0."""
    n_types, copies = 60, 5
    types = torch.arange(n_types).repeat_interleave(copies)
    ident = torch.nn.functional.one_hot(types).double() * 5
    y = torch.randint(0, 4, (n_types,), generator=torch.Generator().manual_seed(0))[types]
    r = rep.linear_probe(ident, y, types=types)
    assert r.control_accuracy[0] > 0.9 and abs(r.selectivity[0]) < 0.1


def test_mapping_of_layers_and_frames():
    x, y = _separable()
    noise = torch.randn(600, 12, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    r = rep.linear_probe({"good": x, "noise": noise}, y)
    df = r.to_frame()
    assert list(df.layer) == ["good", "noise"]
    assert df.accuracy[0] == 1.0 and df.accuracy[1] < 0.5
    assert set(r.tidy().metric) == {"accuracy", "control_accuracy", "selectivity",
                                    "train_accuracy"}
    assert r.n_train + r.n_val + r.n_test == 600


def test_errors():
    x, y = _separable()
    with pytest.raises(DeepscopeError, match="'labels'"):
        rep.linear_probe(x, y[:10])
    with pytest.raises(DeepscopeError, match="'labels'"):
        rep.linear_probe(x, y.double())
    with pytest.raises(DeepscopeError, match="'test_fraction'"):
        rep.linear_probe(x, y, val_fraction=0.5, test_fraction=0.5)
    with pytest.raises(DeepscopeError, match="'features'"):
        rep.linear_probe({"a": x, "b": x[:10]}, y)
