"""Blob images: labels checked on the pixels, balance, mirror symmetry, determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

from deepscope.data import blob_images
from deepscope.errors import DeepscopeError


def test_closedness_labels_match_the_background_components():
    data = blob_images(60, "closedness", seed=3)
    assert int(data.labels.sum()) == 30
    for img, label in zip(data.images.numpy(), data.labels.tolist()):
        _, parts = ndimage.label(img == 0)
        assert (parts >= 2) == bool(label)


def test_symmetry_labels_are_mirror_symmetry():
    data = blob_images(40, "symmetry", seed=1)
    for img, label in zip(data.images, data.labels.tolist()):
        assert torch.equal(img, img.flip(1)) == bool(label)
    one_hot = data.one_hot()
    assert one_hot.shape == (40, 2, 16, 16) and torch.all(one_hot.sum(1) == 1)


def test_deterministic_and_errors():
    a, b = blob_images(10, "closedness", seed=5), blob_images(10, "closedness", seed=5)
    assert torch.equal(a.images, b.images)
    assert blob_images(4, "symmetry", size=32).images.shape == (4, 32, 32)
    with pytest.raises(DeepscopeError, match="'task'"):
        blob_images(4, "parity")
    assert np.isin(a.images.numpy(), [0.0, 1.0]).all()
