"""Generalization measures: norms, margins, flatness and noise that try to predict the gap.

Every measure takes ``(model, ...)`` on any :class:`torch.nn.Module` classifier and returns a
frozen result with ``to_frame()`` and ``tidy()``. ``sharpness`` is the landscape lens's
epsilon-sharpness (:func:`deepscope.lenses.landscape.sharpness`), re-exported here.

Papers: Jiang, Neyshabur, Mobahi, Krishnan & Bengio (2020), "Fantastic generalization
measures and where to find them", arXiv 1912.02178; Neyshabur, Tomioka & Srebro (2015),
arXiv 1503.00036; Bartlett, Foster & Telgarsky (2017), arXiv 1706.08498; Sedghi, Gupta &
Long (2019), arXiv 1805.10408; Dziugaite & Roy (2017), arXiv 1703.11008.
"""

from deepscope.lenses.generalization.flatness import gradient_noise, pac_bayes_flatness
from deepscope.lenses.generalization.margin import margin, norm_measures
from deepscope.lenses.generalization.norms import (
    conv_operator_norm, distance_from_init, frobenius, parameter_count, path_norm, spectral,
)
from deepscope.lenses.generalization.results import (
    DistanceFromInit, Frobenius, GradientNoise, Margin, NormMeasures, PacBayesFlatness,
    ParameterCount, PathNorm, Spectral,
)
from deepscope.lenses.landscape import Sharpness, sharpness

__all__ = [
    "DistanceFromInit", "Frobenius", "GradientNoise", "Margin", "NormMeasures",
    "PacBayesFlatness", "ParameterCount", "PathNorm", "Sharpness", "Spectral",
    "conv_operator_norm", "distance_from_init", "frobenius", "gradient_noise", "margin",
    "norm_measures", "pac_bayes_flatness", "parameter_count", "path_norm", "sharpness",
    "spectral",
]
