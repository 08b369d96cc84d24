"""Lenses: measurements of a network, pure functions from tensors to typed results."""

from deepscope.lenses import curvature
from deepscope.lenses import energy
from deepscope.lenses import generalization
from deepscope.lenses import gradients
from deepscope.lenses import information
from deepscope.lenses import landscape
from deepscope.lenses import regions
from deepscope.lenses import representations
from deepscope.lenses import spectra
from deepscope.lenses import tensors

__all__ = [
    "curvature",
    "energy",
    "generalization",
    "gradients",
    "information",
    "landscape",
    "regions",
    "representations",
    "spectra",
    "tensors",
]
