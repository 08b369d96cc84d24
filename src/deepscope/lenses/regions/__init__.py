"""Linear regions lens: the exact hyperplane arrangement a piecewise-linear network cuts its input into.

This package's namespace is the family's public API; its modules are named by role.
"""

from __future__ import annotations

from deepscope.lenses.regions.exact import (
    SUPPORTED,
    ActivationPatterns,
    PlaneRegions,
    SegmentRegions,
    SegmentsRegions,
    activation_patterns,
    count_patterns,
    plane_coordinates,
    plane_through,
    regions_in_plane,
    regions_on_segment,
    regions_on_segments,
)

__all__ = [
    "ActivationPatterns",
    "PlaneRegions",
    "SUPPORTED",
    "SegmentRegions",
    "SegmentsRegions",
    "activation_patterns",
    "count_patterns",
    "plane_coordinates",
    "plane_through",
    "regions_in_plane",
    "regions_on_segment",
    "regions_on_segments",
]
