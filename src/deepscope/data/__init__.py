"""Data sets: exact generators of the papers' data and bundled data.

No data set is downloaded at run time; every generator here is deterministic.
"""

from __future__ import annotations

from deepscope.data.blobs import BlobImages, blob_images
from deepscope.data.digits import Digits, digits
from deepscope.data.ising import (ONSAGER_TC, IsingSamples, block_spin, ising,
                                  ising_chain, ising_exact)
from deepscope.data.parity import linear_periodic, parity
from deepscope.data.sawtooth import sawtooth
from deepscope.data.segments import SegmentTuples, segment_tuples
from deepscope.data.staircase import Staircase, staircase, staircase_data
from deepscope.data.toy2d import moons, spirals
from deepscope.data.tishby12 import ICOSAHEDRON_VERTICES, tishby12

__all__ = [
    "BlobImages",
    "blob_images",
    "ICOSAHEDRON_VERTICES",
    "ONSAGER_TC",
    "IsingSamples",
    "block_spin",
    "Digits",
    "digits",
    "ising",
    "ising_chain",
    "ising_exact",
    "linear_periodic",
    "parity",
    "moons",
    "sawtooth",
    "SegmentTuples",
    "segment_tuples",
    "Staircase",
    "staircase",
    "staircase_data",
    "spirals",
    "tishby12",
]
