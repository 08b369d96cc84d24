import hashlib

import numpy as np
import pytest
import torch

import deepscope as ds


def test_tishby12_matches_the_published_checks():
    X, y = ds.data.tishby12()
    assert X.shape == (4096, 12) and y.shape == (4096,)
    assert int(y.sum()) == 2118
    digest = hashlib.sha256(y.numpy().astype(np.uint8).tobytes()).hexdigest()
    assert digest == "77732f16f85e91b49d3997196b56163b3bd362d8cf631468a8de3f986e88359f"


def test_tishby12_rows_are_the_binary_expansions_msb_first():
    X, _ = ds.data.tishby12()
    weights = 2 ** torch.arange(11, -1, -1)
    assert torch.equal((X.long() * weights).sum(1), torch.arange(4096))
    assert torch.equal(X[1], torch.tensor([0.0] * 11 + [1.0]))


def test_tishby12_is_spherically_symmetric_under_complement_counts():
    # every input with at least 8 bits set is labelled 1, with at most 4 labelled 0
    X, y = ds.data.tishby12()
    k = X.sum(1)
    assert bool((y[k >= 8] == 1).all())
    assert bool((y[k <= 4] == 0).all())


def test_tishby12_dtype_and_device():
    X, y = ds.data.tishby12(dtype=torch.float64, device="cpu")
    assert X.dtype == torch.float64 and y.dtype == torch.int64


def test_digits_split_is_a_seeded_partition_of_the_bundled_set():
    from sklearn.datasets import load_digits

    d = ds.data.digits(seed=3, standardize=False)
    assert d.x_train.shape == (1348, 64) and d.x_test.shape == (449, 64)
    full = torch.cat([d.x_train, d.x_test]) * 16.0
    ref = torch.as_tensor(load_digits().data, dtype=torch.float32)
    # the same multiset of images: sort rows lexicographically through a stable key
    key = lambda t: sorted(map(tuple, t.round().long().tolist()))  # noqa: E731
    assert key(full) == key(ref)
    again = ds.data.digits(seed=3, standardize=False)
    assert torch.equal(again.x_train, d.x_train) and torch.equal(again.y_test, d.y_test)
    other = ds.data.digits(seed=4, standardize=False)
    assert not torch.equal(other.y_train, d.y_train)


def test_digits_standardize_image_and_random_labels():
    d = ds.data.digits(seed=0)
    assert abs(float(d.x_train.mean())) < 1e-5 and abs(float(d.x_train.std()) - 1) < 1e-3
    img = ds.data.digits(seed=0, image=True)
    assert img.x_train.shape == (1348, 1, 8, 8)
    assert torch.equal(img.x_train.reshape(-1, 64), d.x_train)
    noisy = ds.data.digits(seed=0, random_labels=1.0)
    assert torch.equal(noisy.y_test, d.y_test)  # test labels stay true
    agree = float((noisy.y_train == d.y_train).float().mean())
    assert 0.03 < agree < 0.2  # about 1/10 agree by chance
    with pytest.raises(ds.DeepscopeError, match="test_fraction"):
        ds.data.digits(test_fraction=1.0)
    with pytest.raises(ds.DeepscopeError, match="random_labels"):
        ds.data.digits(random_labels=2)


def test_generators_take_a_seed_or_a_torch_generator():
    import torch

    from deepscope.data import moons, parity, spirals
    from deepscope.data.staircase import staircase, staircase_data

    for make in (lambda s: moons(50, noise=0.1, seed=s), lambda s: spirals(50, seed=s),
                 lambda s: parity(20, 6, seed=s)[0],
                 lambda s: staircase_data(8, staircase(), torch.ones(3), 0.0, seed=s).x):
        a, b = make(3), make(torch.Generator().manual_seed(3))
        a, b = (a[0], b[0]) if isinstance(a, tuple) else (a, b)
        assert torch.equal(a, b)
