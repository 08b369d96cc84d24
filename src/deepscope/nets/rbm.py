"""Restricted Boltzmann machine with Bernoulli or spin visibles and contrastive divergence.

.. math::

    E(v, h) = -v^\\top b - h^\\top c - v^\\top W h, \\qquad
    F(v) = -v^\\top b - \\sum_j \\operatorname{softplus}(c_j + (v W)_j)

Hidden units are Bernoulli (``{0, 1}``); visible units are Bernoulli (``{0, 1}``) or spins
(``{-1, +1}``). Training is contrastive divergence (Hinton 2002) or persistent CD
(Tieleman 2008) through :class:`ContrastiveDivergence`, a ``step_fn`` for the shared
training loop.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from deepscope.errors import check_choice, check_float, check_int, param_error

__all__ = ["RBM", "ContrastiveDivergence", "train_rbm"]

_VISIBLE = ("bernoulli", "spin")


class RBM(nn.Module):
    """A restricted Boltzmann machine ``n_visible x n_hidden``.

    Args:
        n_visible: Number of visible units.
        n_hidden: Number of hidden (Bernoulli) units.
        visible: ``"bernoulli"`` (values in {0, 1}) or ``"spin"`` (values in {-1, +1}).
        init_std: Standard deviation of the initial weights (biases start at zero).
        generator: Generator of the initial weights (default: a fresh one seeded 0).

    Attributes:
        W: Weights, shape ``(n_visible, n_hidden)``.
        b: Visible biases, shape ``(n_visible,)``.
        c: Hidden biases, shape ``(n_hidden,)``.

    Example:
        >>> import torch, deepscope as ds
        >>> rbm = ds.nets.RBM(6, 3)
        >>> rbm.free_energy(torch.ones(2, 6)).shape
        torch.Size([2])
    """

    def __init__(self, n_visible: int, n_hidden: int, *, visible: str = "bernoulli",
                 init_std: float = 0.01, generator: torch.Generator | None = None) -> None:
        super().__init__()
        check_int(n_visible, "n_visible", "RBM", low=1, high=10_000_000)
        check_int(n_hidden, "n_hidden", "RBM", low=1, high=10_000_000)
        check_choice(visible, "visible", "RBM", _VISIBLE)
        check_float(init_std, "init_std", "RBM", low=0.0)
        gen = generator if generator is not None else torch.Generator().manual_seed(0)
        self.n_visible, self.n_hidden, self.visible = int(n_visible), int(n_hidden), visible
        self.W = nn.Parameter(init_std * torch.randn(n_visible, n_hidden, generator=gen))
        self.b = nn.Parameter(torch.zeros(n_visible))
        self.c = nn.Parameter(torch.zeros(n_hidden))

    def extra_repr(self) -> str:  # noqa: D102
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible!r}"

    # ------------------------------------------------------------------ energies
    def _check_v(self, v: torch.Tensor, func: str) -> torch.Tensor:
        if not isinstance(v, torch.Tensor):
            raise param_error("v", func, "a tensor", type(v).__name__, type_error=True)
        if v.shape[-1] != self.n_visible:
            raise param_error("v", func, f"a tensor whose last dimension is {self.n_visible}",
                              tuple(v.shape))
        return v.to(self.W.dtype)

    def energy(self, v: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """``E(v, h)``, one value per row pair (``v``: ``(n, n_visible)``, ``h``: ``(n, n_hidden)``)."""
        v = self._check_v(v, "RBM.energy")
        h = h.to(self.W.dtype)
        return -(v @ self.b) - (h @ self.c) - ((v @ self.W) * h).sum(-1)

    def free_energy(self, v: torch.Tensor) -> torch.Tensor:
        """``F(v) = -log sum_h exp(-E(v, h))``, one value per row."""
        v = self._check_v(v, "RBM.free_energy")
        return -(v @ self.b) - F.softplus(v @ self.W + self.c).sum(-1)

    def free_energy_hidden(self, h: torch.Tensor) -> torch.Tensor:
        """``-log sum_v exp(-E(v, h))`` (visible units summed out), one value per row."""
        h = h.to(self.W.dtype)
        a = h @ self.W.T + self.b
        if self.visible == "bernoulli":
            vis = F.softplus(a).sum(-1)
        else:  # log(2 cosh a) = |a| + log(1 + exp(-2|a|))
            vis = (a.abs() + F.softplus(-2 * a.abs())).sum(-1)
        return -(h @ self.c) - vis

    def log_z_base(self, visible_bias: torch.Tensor | None = None) -> torch.Tensor:
        """log Z of the RBM with zero weights and hidden biases and ``visible_bias``."""
        bias = self.b if visible_bias is None else visible_bias
        if self.visible == "bernoulli":
            vis = F.softplus(bias).sum()
        else:
            vis = (bias.abs() + F.softplus(-2 * bias.abs())).sum()
        return vis + self.n_hidden * math.log(2.0)

    # ------------------------------------------------------------------ conditionals
    def hidden_prob(self, v: torch.Tensor) -> torch.Tensor:
        """``p(h_j = 1 | v)``."""
        v = self._check_v(v, "RBM.hidden_prob")
        return torch.sigmoid(v @ self.W + self.c)

    def visible_prob(self, h: torch.Tensor) -> torch.Tensor:
        """``p(v_i = 1 | h)`` (spins: ``p(v_i = +1 | h)``)."""
        a = h.to(self.W.dtype) @ self.W.T + self.b
        return torch.sigmoid(a if self.visible == "bernoulli" else 2 * a)

    def visible_mean(self, h: torch.Tensor) -> torch.Tensor:
        """``E[v | h]`` (spins: ``tanh(b + W h)``)."""
        p = self.visible_prob(h)
        return p if self.visible == "bernoulli" else 2 * p - 1

    def sample_hidden(self, v: torch.Tensor, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """A sample of ``h ~ p(h | v)``, one per row."""
        p = self.hidden_prob(v)
        return (torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
                < p).to(p.dtype)

    def sample_visible(self, h: torch.Tensor, generator: torch.Generator | None = None
                       ) -> torch.Tensor:
        """A sample of ``v ~ p(v | h)``, one per row."""
        p = self.visible_prob(h)
        u = torch.rand(p.shape, generator=generator, device=p.device, dtype=p.dtype)
        v = (u < p).to(p.dtype)
        return v if self.visible == "bernoulli" else 2 * v - 1

    def gibbs(self, v: torch.Tensor, steps: int = 1, generator: torch.Generator | None = None
              ) -> torch.Tensor:
        """``steps`` rounds of block Gibbs sampling ``v -> h -> v`` on every row (chain)."""
        check_int(steps, "steps", "RBM.gibbs", low=0)
        with torch.no_grad():
            for _ in range(steps):
                v = self.sample_visible(self.sample_hidden(v, generator), generator)
        return v

    def random_visible(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` uniformly random visible configurations (chain starts)."""
        v = (torch.rand(n, self.n_visible, generator=generator, device=self.W.device)
             < 0.5).to(self.W.dtype)
        return v if self.visible == "bernoulli" else 2 * v - 1

    def sample(self, n_chains: int, steps: int, *, seed: int | torch.Generator = 0,
               start: torch.Tensor | None = None) -> torch.Tensor:
        """Run ``n_chains`` Gibbs chains for ``steps`` rounds; returns the last visible states."""
        check_int(n_chains, "n_chains", "RBM.sample", low=1)
        gen = _generator(seed, self.W.device)
        v = self.random_visible(n_chains, gen) if start is None else start
        return self.gibbs(v, steps, gen)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        """The free energy of each row (so ``model(v)`` works in the training loop)."""
        return self.free_energy(v)


def _generator(seed: int | torch.Generator, device: torch.device) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    gen = torch.Generator(device=device)
    gen.manual_seed(int(seed))
    return gen


class ContrastiveDivergence:
    """A ``step_fn`` for :func:`deepscope.train.fit`: one CD-k or persistent-CD update.

    The update uses the free-energy gradient
    ``grad F(v_data).mean() - grad F(v_model).mean()`` (the negative log-likelihood
    gradient with the model expectation replaced by ``k`` Gibbs steps), handed to any
    torch optimizer. With ``persistent=True`` the negative chains (``n_chains`` of them, many
    at once) carry over from step to step (Tieleman 2008); otherwise they start at the data.
    The logs are ``loss`` (the reconstruction error, mean squared ``v - E[v | E[h | v]]``),
    ``reconstruction_error`` (the same) and ``free_energy_gap``.

    Args:
        k: Gibbs steps per update.
        persistent: Persistent chains (PCD) instead of chains started at the data.
        n_chains: Number of persistent chains (default: the batch size).
        l1: L1 penalty on the weights (adds ``l1 * sign(W)`` to the gradient).
        seed: Seed or generator of the Gibbs sampling.

    Example:
        >>> import torch, deepscope as ds
        >>> rbm = ds.nets.RBM(4, 2)
        >>> step = ds.nets.ContrastiveDivergence(k=1, seed=0)
        >>> opt = torch.optim.SGD(rbm.parameters(), lr=0.1)
        >>> sorted(step(rbm, torch.ones(8, 4), opt))
        ['free_energy_gap', 'loss', 'reconstruction_error']
    """

    def __init__(self, *, k: int = 1, persistent: bool = False, n_chains: int | None = None,
                 l1: float = 0.0, seed: int | torch.Generator = 0) -> None:
        self.k = check_int(k, "k", "ContrastiveDivergence", low=1, high=100_000)
        self.persistent = bool(persistent)
        if n_chains is not None:
            check_int(n_chains, "n_chains", "ContrastiveDivergence", low=1)
        self.n_chains = n_chains
        self.l1 = check_float(l1, "l1", "ContrastiveDivergence", low=0.0)
        self.seed = seed
        self._gen: torch.Generator | None = None
        self.chains: torch.Tensor | None = None

    def __call__(self, model: RBM, batch, optimizer: torch.optim.Optimizer) -> dict[str, float]:
        """One update of ``model`` on ``batch`` (a tensor, or a tuple whose first item is it)."""
        v = batch[0] if isinstance(batch, (tuple, list)) else batch
        v = model._check_v(v.reshape(v.shape[0], -1), "ContrastiveDivergence")
        if self._gen is None:
            self._gen = _generator(self.seed, model.W.device)
        with torch.no_grad():
            if self.persistent:
                n = self.n_chains or v.shape[0]
                if self.chains is None or self.chains.shape[0] != n:
                    self.chains = model.random_visible(n, self._gen)
                neg = model.gibbs(self.chains, self.k, self._gen)
                self.chains = neg
            else:
                neg = model.gibbs(v, self.k, self._gen)
            recon = model.visible_mean(model.hidden_prob(v))
        optimizer.zero_grad()
        gap = model.free_energy(v).mean() - model.free_energy(neg).mean()
        gap.backward()
        if self.l1 > 0:
            model.W.grad.add_(self.l1 * torch.sign(model.W.detach()))
        optimizer.step()
        err = float(((v - recon) ** 2).mean())
        return {"loss": err, "free_energy_gap": float(gap.detach()), "reconstruction_error": err}


def train_rbm(rbm: RBM, data: torch.Tensor, step: ContrastiveDivergence, *, lr: float,
              epochs: int, batch_size: int, seed: int, momentum: float = 0.5,
              on_epoch: Any = None) -> Any:
    """Train ``rbm`` on the rows of ``data`` with ``step`` (CD-k / PCD) through
    :func:`deepscope.train.fit`: SGD with ``momentum``, shuffled minibatches seeded by ``seed``,
    and ``on_epoch(epoch, logs)`` after every full pass (``epoch`` from 1).

    Returns:
        The :class:`deepscope.train.FitResult`.
    """
    from deepscope.train import fit

    per_epoch = -(-data.shape[0] // batch_size)

    def on_step(s: int, model: RBM, logs: dict) -> None:
        if on_epoch is not None:
            on_epoch(s // per_epoch, logs)

    return fit(rbm, None, (data, data), step_fn=step, optimizer="sgd", lr=lr,
               momentum=momentum, epochs=epochs, batch_size=batch_size, seed=seed,
               schedule=[per_epoch * e for e in range(1, epochs + 1)], on_step=on_step)
