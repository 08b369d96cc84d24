"""Lenses: measurements of a network, pure functions from tensors to typed results."""

from deepscope.lenses import curvature
from deepscope.lenses import generalization
from deepscope.lenses import gradients
from deepscope.lenses import information
from deepscope.lenses import landscape
from deepscope.lenses import regions
from deepscope.lenses import spectra

__all__ = ["curvature", "generalization", "gradients", "information", "landscape", "regions", "spectra"]
