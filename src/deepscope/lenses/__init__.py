"""Lenses: measurements of a network, pure functions from tensors to typed results."""

from deepscope.lenses import information

__all__ = ["information"]
