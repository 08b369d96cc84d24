"""Tests of the line-segment tuples of Shalev-Shwartz et al. (2017), Section 3."""

from __future__ import annotations

import math

import pytest
import torch

from deepscope.data.segments import rasterize_segments, segment_tuples
from deepscope.errors import DeepscopeError


def test_shapes_labels_and_binary_pixels():
    d = segment_tuples(50, k=3, seed=1)
    assert d.images.shape == (50, 3, 1, 28, 28)
    assert set(d.images.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(d.image_labels, torch.where(d.angles < math.pi / 2, 1.0, -1.0))
    assert torch.equal(d.labels, d.image_labels.prod(1))
    assert ((d.angles >= 0) & (d.angles < math.pi)).all()
    assert (d.images.sum((2, 3, 4)) >= 8).all()  # every segment is drawn, 12+ px long


def test_same_seed_same_data_other_seed_other_data():
    a, b = segment_tuples(20, 2, seed=5), segment_tuples(20, 2, seed=5)
    c = segment_tuples(20, 2, seed=6)
    assert torch.equal(a.images, b.images) and torch.equal(a.angles, b.angles)
    assert not torch.equal(a.images, c.images)


def test_labels_are_balanced_and_margin_excludes_the_bands():
    d = segment_tuples(4000, 1, seed=0)
    assert abs(float((d.image_labels == 1).float().mean()) - 0.5) < 0.03
    m = segment_tuples(2000, 1, margin=0.3, seed=0).angles
    for edge in (0.0, math.pi / 2, math.pi):
        assert ((m - edge).abs() >= 0.3 - 1e-5).all()


def test_rasterized_horizontal_and_diagonal_segments_are_exact():
    # A horizontal segment through row 10 (y = 17) from x = 5 to x = 15.
    img = rasterize_segments(torch.tensor([[10.0, 17.0]]), torch.tensor([0.0]),
                             torch.tensor([10.0]), size=28)[0]
    expect = torch.zeros(28, 28)
    expect[10, 5:16] = 1.0
    assert torch.equal(img, expect)
    # A 45-degree segment through the centre rises to the right: lower rows on the left.
    img = rasterize_segments(torch.tensor([[13.0, 14.0]]), torch.tensor([math.pi / 4]),
                             torch.tensor([10.0 * math.sqrt(2)]), size=28)[0]
    rows, cols = torch.nonzero(img, as_tuple=True)
    assert torch.corrcoef(torch.stack([rows.float(), cols.float()]))[0, 1] < -0.99


def test_long_segments_are_drawn_whole():
    # the centre is drawn so that the whole segment fits inside the image
    d = segment_tuples(300, 1, length=(26.0, 26.0), seed=2)
    img = d.images[:, 0, 0]
    assert (img.sum((1, 2)) >= 18).all()  # a 26-px segment spans >= 18 px on an axis


def test_bad_arguments():
    with pytest.raises(DeepscopeError, match="'k' parameter of segment_tuples"):
        segment_tuples(3, k=0)
    with pytest.raises(DeepscopeError, match="'length' parameter of segment_tuples"):
        segment_tuples(3, length=(5.0, 40.0))
    with pytest.raises(DeepscopeError, match="'margin' parameter"):
        segment_tuples(3, margin=1.0)
