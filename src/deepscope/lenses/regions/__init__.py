"""Linear regions lens: the exact hyperplane arrangement a piecewise-linear network cuts its input into.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.regions.exact import (
    SUPPORTED,
    ActivationPatterns,
    PlaneRegions,
    RegionCost,
    SegmentRegions,
    SegmentsRegions,
    activation_patterns,
    count_patterns,
    plane_coordinates,
    plane_cost,
    plane_through,
    regions_in_plane,
    regions_on_segment,
    regions_on_segments,
    segment_cost,
)
from deepscope.lenses.registry import LensCase, register_lens, tiny_data, tiny_net

__all__ = [
    "ActivationPatterns",
    "PlaneRegions",
    "SUPPORTED",
    "SegmentRegions",
    "RegionCost",
    "SegmentsRegions",
    "activation_patterns",
    "count_patterns",
    "plane_coordinates",
    "plane_cost",
    "plane_through",
    "regions_in_plane",
    "regions_on_segment",
    "regions_on_segments",
    "segment_cost",
]


def _net():
    return tiny_net(2, 6, 1, norm=True)


def _points(n):
    return tiny_data(n, 2, seed=1)[0]


def _patterns_case():
    net = _net()
    return LensCase((net, _points(20)), {}, model=net)


def _segment_case():
    import torch

    net = _net()
    return LensCase((net, torch.full((2,), -2.0), torch.full((2,), 2.0)), {}, model=net)


def _segments_case():
    net = _net()
    return LensCase((net, _points(5), -_points(5)), {}, model=net)


def _plane_case():
    import torch

    net = _net()
    return LensCase((net, torch.zeros(2), torch.eye(2)), {"bounds": (-2.0, 2.0, -2.0, 2.0)},
                    model=net)


_RTOL = [({"rtol": -1.0}, "rtol")]
register_lens("regions.activation_patterns", activation_patterns,
              needs=("model", "data", "piecewise_linear"), case=_patterns_case)
register_lens("regions.count_patterns", count_patterns,
              needs=("model", "data", "piecewise_linear"), case=_patterns_case, tidy=False)
register_lens("regions.regions_on_segment", regions_on_segment,
              needs=("model", "data", "piecewise_linear"), case=_segment_case, bad=_RTOL)
register_lens("regions.segment_cost", segment_cost,
              needs=("model", "data", "piecewise_linear"), case=_segment_case,
              bad=[*_RTOL, ({"probes": 1}, "probes"), ({"fraction": 0.9}, "fraction")])
register_lens("regions.plane_cost", plane_cost,
              needs=("model", "data", "piecewise_linear"), case=_plane_case,
              bad=[*_RTOL, ({"probes": 5}, "probes"), ({"fraction": 0.9}, "fraction")])
register_lens("regions.regions_on_segments", regions_on_segments,
              needs=("model", "data", "piecewise_linear"), case=_segments_case, bad=_RTOL)
register_lens("regions.regions_in_plane", regions_in_plane,
              needs=("model", "data", "piecewise_linear"), case=_plane_case,
              bad=[*_RTOL, ({"bounds": (1.0, 0.0, 0.0, 1.0)}, "bounds")])
