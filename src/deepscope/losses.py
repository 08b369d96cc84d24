"""Loss adapters for any model output: a tensor, a tuple, a dict or a ``transformers`` ModelOutput.

Every lens that takes ``(model, loss_fn, data)`` calls ``loss_fn(outputs, targets)`` and
expects the **mean** loss of the batch as a scalar tensor. The functions here follow that
protocol for the outputs real models return:

* :func:`logits`: the prediction tensor inside any output (``output.logits``, the first
  element of a tuple, or the tensor itself).
* :func:`cross_entropy`: classification; logits ``(n, C)`` with labels ``(n,)``, or
  per-position logits ``(n, T, C)`` with labels ``(n, T)``; label ``-100`` is ignored.
* :func:`causal_lm`: next-token prediction: the logits at position ``t`` predict token
  ``t + 1`` (shifted inside), padding ignored (labels ``-100``, or an ``attention_mask``
  given with the targets as ``{"input_ids": ..., "attention_mask": ...}``).
* :func:`mse`: mean squared error on the logits tensor.
* :func:`model_loss`: ``outputs.loss``, the loss the model computed itself because the
  inputs dict carried ``labels`` (targets are ignored).

Weights across batches: over a DataLoader, lenses average batch means weighted by what
each loss averages over, :func:`count` (the number of predicted tokens for
:func:`causal_lm`, non-ignored labels for :func:`cross_entropy`, samples otherwise), so the
result is the mean over the whole data set.

Example:
    >>> import torch
    >>> from deepscope import losses
    >>> out = {"logits": torch.zeros(2, 3)}
    >>> round(float(losses.cross_entropy(out, torch.tensor([0, 2]))), 4)
    1.0986
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch.nn import functional as F

from deepscope.errors import DeepscopeTypeError, DeepscopeValueError

__all__ = ["IGNORE_INDEX", "causal_lm", "count", "cross_entropy", "logits", "model_loss",
           "mse"]

#: Label value that :func:`cross_entropy` and :func:`causal_lm` skip (as ``transformers``).
IGNORE_INDEX = -100


def logits(output: Any) -> torch.Tensor:
    """The prediction tensor of a model output.

    A tensor is returned as it is; a mapping (``dict`` or ``transformers`` ModelOutput)
    gives its ``"logits"`` entry, else its first tensor value other than ``"loss"``; a
    tuple or list gives its first tensor.

    Raises:
        DeepscopeTypeError: the output holds no tensor.
    """
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping):
        if isinstance(output.get("logits"), torch.Tensor):
            return output["logits"]
        for key, value in output.items():
            if key != "loss" and isinstance(value, torch.Tensor):
                return value
    elif isinstance(output, (tuple, list)):
        for value in output:
            if isinstance(value, torch.Tensor):
                return value
    raise DeepscopeTypeError(f"The model output ({type(output).__name__}) holds no logits "
                             "tensor; pass a loss_fn that reads it.")


def _labels(targets: Any, func: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    if isinstance(targets, torch.Tensor):
        return targets, None
    if isinstance(targets, Mapping):
        for key in ("labels", "input_ids"):
            if isinstance(targets.get(key), torch.Tensor):
                return targets[key], targets.get("attention_mask")
    raise DeepscopeTypeError(f"The targets of {func} must be a tensor of labels or a dict "
                             f"with 'labels' or 'input_ids'. Got {type(targets).__name__}.")


def cross_entropy(outputs: Any, targets: Any) -> torch.Tensor:
    """Mean cross-entropy of the logits against integer labels (``-100`` ignored).

    Logits ``(n, C)`` with labels ``(n,)``, or ``(n, T, C)`` with labels ``(n, T)``
    (token classification); soft targets of the logits' shape are accepted as
    :func:`torch.nn.functional.cross_entropy` does.
    """
    z = logits(outputs)
    y, _ = _labels(targets, "cross_entropy")
    if z.ndim > 2 and y.ndim == z.ndim - 1:
        return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                               ignore_index=IGNORE_INDEX)
    return F.cross_entropy(z, y, ignore_index=IGNORE_INDEX)


def _shifted(targets: Any) -> torch.Tensor:
    y, mask = _labels(targets, "causal_lm")
    if y.ndim != 2:
        raise DeepscopeValueError(f"The targets of causal_lm must be token ids of shape "
                                  f"(batch, length). Got {tuple(y.shape)}.")
    y = y[:, 1:]
    if mask is not None:
        y = y.masked_fill(mask[:, 1:] == 0, IGNORE_INDEX)
    return y


def causal_lm(outputs: Any, targets: Any) -> torch.Tensor:
    """Mean next-token cross-entropy: logits at ``t`` against the token at ``t + 1``.

    .. math:: L = \\frac{1}{|T|} \\sum_{(b, t) \\in T} -\\log p_\\theta(y_{b,t+1} \\mid y_{b,\\le t})

    over the predicted positions T whose label is not ``-100`` (and, when the targets are a
    dict with an ``attention_mask``, not padding). Targets are the token ids themselves
    (``(n, L)``, usually the ``input_ids``); the shift happens here, as in ``transformers``.
    """
    z = logits(outputs)
    y = _shifted(targets)
    if z.ndim != 3:
        raise DeepscopeValueError(f"causal_lm needs logits of shape (batch, length, vocab). "
                                  f"Got {tuple(z.shape)}.")
    z = z[:, :-1]
    return F.cross_entropy(z.reshape(-1, z.shape[-1]), y.reshape(-1),
                           ignore_index=IGNORE_INDEX)


def mse(outputs: Any, targets: Any) -> torch.Tensor:
    """Mean squared error between the logits tensor and ``targets`` (same shape)."""
    z = logits(outputs)
    y, _ = _labels(targets, "mse")
    return F.mse_loss(z, y.to(z.dtype).reshape(z.shape) if y.numel() == z.numel() else y)


def model_loss(outputs: Any, targets: Any = None) -> torch.Tensor:
    """``outputs.loss``: the mean loss the model computed itself (``labels`` in its inputs).

    Raises:
        DeepscopeValueError: the output carries no loss (pass ``labels`` with the inputs).
    """
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else getattr(outputs, "loss",
                                                                             None)
    if not isinstance(loss, torch.Tensor):
        raise DeepscopeValueError("model_loss needs a model output with a 'loss' (put "
                                  "'labels' in the inputs dict). Got "
                                  f"{type(outputs).__name__} without one.")
    return loss


def count(loss_fn: Any, targets: Any, n: int) -> int:
    """What ``loss_fn`` averages over in one batch of ``n`` samples (its weight in a mean).

    Predicted, non-ignored tokens for :func:`causal_lm`, non-ignored labels for
    :func:`cross_entropy` with per-position labels, ``n`` otherwise.
    """
    try:
        if loss_fn is causal_lm:
            return max(int((_shifted(targets) != IGNORE_INDEX).sum()), 1)
        if loss_fn is cross_entropy:
            y, _ = _labels(targets, "cross_entropy")
            if not y.is_floating_point():
                return max(int((y != IGNORE_INDEX).sum()), 1)
    except (DeepscopeTypeError, DeepscopeValueError):
        return n
    return n
