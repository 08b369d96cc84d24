"""Data sets: exact generators of the papers' data and bundled data.

No data set is downloaded at run time; every generator here is deterministic.
"""

from __future__ import annotations

from deepscope.data.digits import Digits, digits
from deepscope.data.tishby12 import ICOSAHEDRON_VERTICES, tishby12

__all__ = [
    "ICOSAHEDRON_VERTICES",
    "Digits",
    "digits",
    "tishby12",
]
