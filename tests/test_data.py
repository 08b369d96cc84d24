import hashlib

import numpy as np
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
