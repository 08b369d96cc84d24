"""Private engine of :class:`deepscope.train.StackedMLPTrainer`: many MLPs trained as one.

All ``S`` seeds share one set of tensors. Parameters and gradients each live in ONE flat,
contiguous buffer, laid out parameter-major::

    [ W_1 (S, n_0, n_1) | b_1 (S, n_1) | W_2 (S, n_1, n_2) | b_2 (S, n_2) | ... ]

so an optimizer step is a handful of in-place ops over the whole buffer. Activations are
kept feature-major, ``(S, width, rows)``: batched matmuls on that layout are several times
faster than on ``(S, rows, width)`` for the narrow layers of the info-plane net, and the
softmax reduces over a middle dimension, which vectorises well along the rows.

Forward and backward are written by hand (affine maps, an elementwise activation, softmax
cross-entropy) and precompiled, per batch, into a list of argument-free calls on
preallocated buffers: one step of the 6-layer net is ~45 small torch ops, no allocation.

Every op must give a seed's numbers independently of where the seed sits in the stack, so
seeds trained together match seeds trained alone bit for bit. Hence softmax and sigmoid are
spelled out (``torch.softmax`` on a middle dim and ``torch.sigmoid`` round their scalar
tails differently from their vector bodies) and the trainer never runs a batch of one
matrix (see :mod:`deepscope.train`).

.. math::

    z_l = W_l^\\top h_{l-1} + b_l,\\quad h_l = \\phi(z_l),\\quad p = \\mathrm{softmax}(z_L),

    \\delta_L = p - y,\\quad \\nabla W_l = h_{l-1}\\,\\delta_l^\\top,\\quad
    \\nabla b_l = \\textstyle\\sum_{\\text{rows}} \\delta_l,\\quad
    \\delta_{l-1} = (W_l\\,\\delta_l) \\odot \\phi'(z_{l-1}).

The gradient buffer holds the **sum** over the batch; the optimizers take the ``1 / rows``
factor of the mean loss as their ``scale`` argument, folded into their own ops.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import torch

from deepscope.nets.mlp import LEAKY_RELU_SLOPE


# ----------------------------------------------------------------------------- layout


class Layout:
    """Offsets of every weight and bias of ``S`` stacked MLPs inside one flat buffer."""

    def __init__(self, widths: Sequence[int], n_seeds: int) -> None:
        self.widths = tuple(widths)
        self.n_seeds = n_seeds
        self.blocks: list[tuple[int, int, int, int]] = []  # (w_start, w_end, b_end, n_out)
        pos = 0
        for n_in, n_out in zip(self.widths[:-1], self.widths[1:]):
            w_end = pos + n_seeds * n_in * n_out
            b_end = w_end + n_seeds * n_out
            self.blocks.append((pos, w_end, b_end, n_out))
            pos = b_end
        self.numel = pos

    def views(self, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Weights ``(S, n_in, n_out)`` and biases ``(S, n_out)`` as views of ``flat``."""
        ws, bs = [], []
        for (start, w_end, b_end, n_out), n_in in zip(self.blocks, self.widths[:-1]):
            ws.append(flat[start:w_end].view(self.n_seeds, n_in, n_out))
            bs.append(flat[w_end:b_end].view(self.n_seeds, n_out))
        return ws, bs


# ------------------------------------------------------------------------ initialisation


def init_params(
    widths: Sequence[int], scheme: str, generator: torch.Generator
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Draw one seed's ``(W (n_in, n_out), b (n_out,))`` per layer, float64 on CPU.

    ``"truncated_normal"``: ``W ~ N(0, 1/n_out)`` truncated at two standard deviations
    (inverse-CDF sampling), zero bias -- the Keras setup of Saxe et al. (ICLR 2018).
    ``"pytorch"``: the :class:`torch.nn.Linear` default, ``U(-1/sqrt(n_in), 1/sqrt(n_in))``
    for weight and bias, the weight drawn in ``(n_out, n_in)`` order as ``nn.Linear`` does.
    """
    out = []
    f64 = torch.float64
    lo = 0.5 * (1.0 + math.erf(-2.0 / math.sqrt(2.0)))  # Phi(-2)
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        if scheme == "truncated_normal":
            u = lo + (1.0 - 2.0 * lo) * torch.rand(n_in, n_out, generator=generator, dtype=f64)
            w = torch.erfinv(2.0 * u - 1.0) * (math.sqrt(2.0) / math.sqrt(n_out))
            b = torch.zeros(n_out, dtype=f64)
        else:
            bound = 1.0 / math.sqrt(n_in)
            w = torch.empty(n_out, n_in, dtype=f64).uniform_(-bound, bound, generator=generator).T
            b = torch.empty(n_out, dtype=f64).uniform_(-bound, bound, generator=generator)
        out.append((w, b))
    return out


# ----------------------------------------------------------------------------- activations


# In-place backward of each activation, ``grad *= phi'(z)`` written with its output
# ``out = phi(z)`` and a scratch buffer ``tmp`` (same shape), from public ops only. Each
# spells the same products in the same order as autograd's kernels, so the gradients match
# autograd's (tests/train/test_stacked_mlp.py checks them).


def _tanh_backward(grad: torch.Tensor, out: torch.Tensor, tmp: torch.Tensor) -> None:
    # grad * (1 - out^2), the square subtracted in one fused step (addcmul) as autograd does
    tmp.fill_(1.0).addcmul_(out, out, value=-1.0)
    grad.mul_(tmp)


def _sigmoid_backward(grad: torch.Tensor, out: torch.Tensor, tmp: torch.Tensor) -> None:
    # (grad * (1 - out)) * out
    torch.neg(out, out=tmp).add_(1.0)
    grad.mul_(tmp).mul_(out)


def _relu_backward(grad: torch.Tensor, out: torch.Tensor, tmp: torch.Tensor) -> None:
    # out > 0 exactly where the pre-activation is > 0; autograd also gives 0 at z == 0.
    grad.masked_fill_(out <= 0, 0.0)


def _leaky_backward(grad: torch.Tensor, out: torch.Tensor, tmp: torch.Tensor) -> None:
    # grad where out > 0, else grad * slope (the output has the pre-activation's sign)
    torch.mul(grad, LEAKY_RELU_SLOPE, out=tmp)
    torch.where(out > 0, grad, tmp, out=grad)


def _leaky_forward(x: torch.Tensor) -> None:
    torch.nn.functional.leaky_relu_(x, LEAKY_RELU_SLOPE)


def _sigmoid_forward(x: torch.Tensor) -> None:
    # 1 / (1 + exp(-x)) from ops whose vectorised and scalar paths round alike;
    # torch.sigmoid's do not, so its value would depend on where a seed sits in memory.
    x.neg_().exp_().add_(1.0).reciprocal_()


#: name -> (in-place forward, in-place backward(grad, output)); None for the identity.
_ACT: dict[str, tuple[Callable | None, Callable | None]] = {
    "tanh": (torch.Tensor.tanh_, _tanh_backward),
    "sigmoid": (_sigmoid_forward, _sigmoid_backward),
    "relu": (torch.Tensor.relu_, _relu_backward),
    "leaky_relu": (_leaky_forward, _leaky_backward),
    "linear": (None, None),
}


def softmax_and_log(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(softmax, log_softmax)`` over the last dim, from the same ops as training."""
    shifted = logits - logits.amax(dim=-1, keepdim=True)
    expo = shifted.exp()
    total = expo.sum(dim=-1, keepdim=True)
    return expo / total, shifted - total.log()


def apply_activation(name: str, z: torch.Tensor) -> torch.Tensor:
    """Out-of-place hidden activation (used by snapshots)."""
    if name == "tanh":
        return torch.tanh(z)
    if name == "sigmoid":
        return torch.exp(-z).add_(1.0).reciprocal_()
    if name == "relu":
        return torch.relu(z)
    if name == "leaky_relu":
        return torch.nn.functional.leaky_relu(z, LEAKY_RELU_SLOPE)
    return z


# ------------------------------------------------------------------------- step program


class Workspace:
    """Preallocated activation and delta buffers for batches of ``rows`` samples."""

    def __init__(self, widths: Sequence[int], n_seeds: int, rows: int, like: torch.Tensor) -> None:
        opts = {"dtype": like.dtype, "device": like.device}
        self.rows = rows
        # hidden[l]: output of hidden layer l+1 (pre-activation, then activated in place).
        self.hidden = [torch.empty(n_seeds, n, rows, **opts) for n in widths[1:-1]]
        self.logits = torch.empty(n_seeds, widths[-1], rows, **opts)
        self.probs = torch.empty(n_seeds, widths[-1], rows, **opts)
        self.col_max = torch.empty(n_seeds, 1, rows, **opts)
        self.col_sum = torch.empty(n_seeds, 1, rows, **opts)
        # delta[l]: dLoss/dz of layer l+1 (summed-loss scale).
        self.delta = [torch.empty(n_seeds, n, rows, **opts) for n in widths[1:]]
        # scratch[l]: the activation derivative of hidden layer l+1 during backward.
        self.scratch = [torch.empty(n_seeds, n, rows, **opts) for n in widths[1:-1]]


def compile_step(
    params: tuple[list[torch.Tensor], list[torch.Tensor]],
    grads: tuple[list[torch.Tensor], list[torch.Tensor]],
    x: torch.Tensor,
    y: torch.Tensor,
    activation: str,
    ws: Workspace,
) -> list[Callable[[], object]]:
    """Forward + backward of one batch as a list of argument-free calls.

    Args:
        params: ``(weights, biases)`` views, ``(S, n_in, n_out)`` and ``(S, n_out)``.
        grads: The same views of the gradient buffer; the calls overwrite them with the
            gradient of the **summed** cross-entropy over the batch.
        x: Batch inputs, feature-major ``(S, n_0, rows)`` (may be a strided view).
        y: One-hot targets ``(S, C, rows)`` in the parameter dtype.
        activation: Hidden activation name.
        ws: Buffers for ``rows`` samples.
    """
    weights, biases = params
    g_weights, g_biases = grads
    act_fwd, act_bwd = _ACT[activation]
    n_layers = len(weights)
    calls: list[Callable[[], object]] = []
    h = x
    for l in range(n_layers):
        last = l == n_layers - 1
        z = ws.logits if last else ws.hidden[l]
        w_t, b_col = weights[l].transpose(1, 2), biases[l].unsqueeze(2)
        calls.append(partial(torch.baddbmm, b_col, w_t, h, out=z))
        if not last and act_fwd is not None:
            calls.append(partial(act_fwd, z))
        h = z
    # Softmax over classes (dim 1), spelled out: torch.softmax on a middle dim splits the
    # work by thread count and rounds its scalar tail differently, so a seed's numbers
    # would depend on the seeds beside it.
    calls.append(partial(torch.amax, ws.logits, 1, keepdim=True, out=ws.col_max))
    calls.append(partial(torch.sub, ws.logits, ws.col_max, out=ws.probs))
    calls.append(partial(torch.Tensor.exp_, ws.probs))
    calls.append(partial(torch.sum, ws.probs, 1, keepdim=True, out=ws.col_sum))
    calls.append(partial(torch.Tensor.div_, ws.probs, ws.col_sum))
    calls.append(partial(torch.sub, ws.probs, y, out=ws.delta[-1]))
    for l in reversed(range(n_layers)):
        h_in = x if l == 0 else ws.hidden[l - 1]
        d = ws.delta[l]
        calls.append(partial(torch.bmm, h_in, d.transpose(1, 2), out=g_weights[l]))
        calls.append(partial(torch.sum, d, 2, keepdim=True, out=g_biases[l].unsqueeze(2)))
        if l > 0:
            calls.append(partial(torch.bmm, weights[l], d, out=ws.delta[l - 1]))
            if act_bwd is not None:
                calls.append(partial(act_bwd, ws.delta[l - 1], ws.hidden[l - 1],
                                     ws.scratch[l - 1]))
    return calls


# ----------------------------------------------------------------------------- optimizers


class _FlatOptimizer:
    """What the flat optimizers share: the buffers, lr, L2 weight decay and the step count."""

    def __init__(
        self, params: torch.Tensor, grads: torch.Tensor, *, lr: float, weight_decay: float = 0.0
    ) -> None:
        self.params, self.grads = params, grads
        self.lr, self.weight_decay = lr, weight_decay
        self.step_count = 0

    def _begin_step(self, scale: float) -> float:
        """Fold L2 weight decay into ``grads`` (as torch does) and count the step.

        Returns:
            The scale still to apply to ``grads`` (1 once decay has been folded in).
        """
        if self.weight_decay:
            self.grads.mul_(scale).add_(self.params, alpha=self.weight_decay)
            scale = 1.0
        self.step_count += 1
        return scale


class FlatAdam(_FlatOptimizer):
    """Adam (Kingma & Ba, 2014, arXiv:1412.6980) over one flat parameter buffer.

    Same update as :class:`torch.optim.Adam` (L2 ``weight_decay`` added to the gradient),
    written as ``p -= lr * c / (1 - b1^t) * m / (sqrt(v) + eps * c)`` with
    ``c = sqrt(1 - b2^t)``, which is the textbook step with two fewer ops.
    """

    def __init__(
        self,
        params: torch.Tensor,
        grads: torch.Tensor,
        *,
        lr: float,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, grads, lr=lr, weight_decay=weight_decay)
        self.betas, self.eps = betas, eps
        self.exp_avg = torch.zeros_like(params)
        self.exp_avg_sq = torch.zeros_like(params)
        self._denom = torch.empty_like(params)

    def step(self, scale: float) -> None:
        """Update with gradient ``scale * grads`` (``scale = 1 / rows`` for a mean loss)."""
        scale = self._begin_step(scale)
        g, p, t = self.grads, self.params, self.step_count
        b1, b2 = self.betas
        self.exp_avg.mul_(b1).add_(g, alpha=(1.0 - b1) * scale)
        self.exp_avg_sq.mul_(b2).addcmul_(g, g, value=(1.0 - b2) * scale * scale)
        c = math.sqrt(1.0 - b2**t)
        torch.sqrt(self.exp_avg_sq, out=self._denom).add_(self.eps * c)
        p.addcdiv_(self.exp_avg, self._denom, value=-self.lr * c / (1.0 - b1**t))

    def state_dict(self) -> dict:
        return {
            "step": self.step_count,
            "exp_avg": self.exp_avg.clone(),
            "exp_avg_sq": self.exp_avg_sq.clone(),
        }

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step"])
        self.exp_avg.copy_(state["exp_avg"])
        self.exp_avg_sq.copy_(state["exp_avg_sq"])


class FlatSGD(_FlatOptimizer):
    """SGD with optional heavy-ball momentum over one flat buffer (as :class:`torch.optim.SGD`)."""

    def __init__(
        self,
        params: torch.Tensor,
        grads: torch.Tensor,
        *,
        lr: float,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
    ) -> None:
        super().__init__(params, grads, lr=lr, weight_decay=weight_decay)
        self.momentum = momentum
        # A zero buffer makes the first update equal torch's ``buf = grad.clone()``.
        self.momentum_buffer = torch.zeros_like(params) if momentum else None

    def step(self, scale: float) -> None:
        """Update with gradient ``scale * grads`` (``scale = 1 / rows`` for a mean loss)."""
        scale = self._begin_step(scale)
        g, p = self.grads, self.params
        if self.momentum_buffer is None:
            p.add_(g, alpha=-self.lr * scale)
            return
        self.momentum_buffer.mul_(self.momentum).add_(g, alpha=scale)
        p.add_(self.momentum_buffer, alpha=-self.lr)

    def state_dict(self) -> dict:
        state: dict = {"step": self.step_count}
        if self.momentum_buffer is not None:
            state["momentum_buffer"] = self.momentum_buffer.clone()
        return state

    def load_state_dict(self, state: dict) -> None:
        self.step_count = int(state["step"])
        if self.momentum_buffer is not None:
            self.momentum_buffer.copy_(state["momentum_buffer"])
