"""Training loops, including many seeds of one small MLP trained at once.

:class:`StackedMLPTrainer` trains ``S`` independent copies (seeds) of a fully connected
softmax classifier together: parameters are stacked along a leading seed dimension, every
layer is one batched matmul, the backward pass is written by hand and the optimizer is a
few in-place ops over one flat buffer (see :mod:`deepscope.train._kernels`). It is built for the
information-plane experiments of Shwartz-Ziv & Tishby (2017, arXiv:1703.00810) and Saxe et
al. (ICLR 2018): a 12-10-7-5-4-3-2 net, 4096 samples, thousands of epochs, activations of
every layer captured at a few hundred epochs.

Seeds are independent: each has its own CPU :class:`torch.Generator`, seeded with the seed,
that draws (in this order) the train/test split, the initial weights and, every epoch, the
order of the training samples. Seed ``s`` trained alone gives bit-identical numbers (on
CPU) to seed ``s`` trained among others. That takes care: every op must compute a seed's
values the same way wherever the seed sits in memory, so a lone seed gets a hidden mirror
slot (torch multiplies a batch of one matrix with a different kernel) and softmax and
sigmoid are spelled out in ops whose vectorised and scalar paths agree (checked with 1 to
50 seeds and 2 to 16 threads). On CUDA, seeds agree to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd
import torch

from deepscope.train import _kernels as _stacked
from deepscope.errors import (
    DeepscopeValueError,
    Described,
    check_choice,
    check_float,
    check_int,
    param_error,
)
from deepscope.nets.mlp import ACTIVATIONS, MLP, check_widths
from deepscope.seeding import check_seeds

__all__ = ["Snapshot", "StackedMLPTrainer"]

_NAME = "StackedMLPTrainer"
_FORMAT = "deepscope.StackedMLPTrainer/1"


@dataclass(frozen=True)
class Snapshot:
    """Every layer of every seed on ALL inputs, and the loss/accuracy, at one epoch.

    Attributes:
        epoch: Number of training epochs completed (0 = the initialisation).
        layer_names: ``("layer1", ..., "layer{L}")``.
        activations: One tensor per layer, each ``(S, N, width)``: hidden layers after
            their activation; the last is the softmax output (class probabilities).
        train_loss: Mean cross-entropy (nats) on each seed's training split, ``(S,)``.
        train_acc: Training accuracy, ``(S,)``.
        test_loss: Mean cross-entropy on the test split, ``(S,)`` (NaN if it is empty).
        test_acc: Test accuracy, ``(S,)`` (NaN if the test split is empty).
        seeds: The seed of each row of the leading dimension.
    """

    epoch: int
    layer_names: tuple[str, ...]
    activations: tuple[torch.Tensor, ...]
    train_loss: torch.Tensor
    train_acc: torch.Tensor
    test_loss: torch.Tensor
    test_acc: torch.Tensor
    seeds: tuple[int, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        """Tidy metrics: one row per (seed, metric), columns ``epoch, seed, metric, value``."""
        seeds = self.seeds or tuple(range(self.train_loss.shape[0]))
        rows = []
        for metric in ("train_loss", "train_acc", "test_loss", "test_acc"):
            values = getattr(self, metric).detach().cpu().double().tolist()
            rows.extend((self.epoch, s, metric, v) for s, v in zip(seeds, values))
        return pd.DataFrame(rows, columns=["epoch", "seed", "metric", "value"])


class StackedMLPTrainer:
    """Train many seeds of an MLP softmax classifier at once, with full-data snapshots.

    The net is ``widths[0] -> widths[1] -> ... -> widths[-1]``: hidden layers apply
    ``activation``; the output layer is a softmax over ``widths[-1]`` classes trained with
    the mean cross-entropy over each minibatch. Every epoch each seed reshuffles its own
    training split and walks it in batches of ``batch_size`` (the last, partial batch is
    kept; all seeds share the batch sizes). ``weight_decay`` is L2 added to the gradient of
    every parameter, as in :mod:`torch.optim`.

    Args:
        X: Inputs ``(N, d)``; training runs on ``X``'s device (or ``device``).
        y: Integer class labels ``(N,)`` in ``[0, widths[-1])``.
        widths: Layer widths, input first; ``widths[0]`` must equal ``d``.
        activation: Hidden activation: ``"tanh"``, ``"relu"``, ``"sigmoid"``,
            ``"leaky_relu"`` (slope 0.01) or ``"linear"``.
        seeds: Distinct non-negative ints, one independent network per seed.
        optimizer: ``"adam"`` (betas 0.9, 0.999, eps 1e-8) or ``"sgd"``.
        lr: Learning rate.
        batch_size: Minibatch size (capped at the training-split size).
        train_fraction: Fraction of the N samples in each seed's training split
            (``floor(train_fraction * N)`` samples); the rest is the test split.
        init: ``"truncated_normal"`` (``N(0, 1/fan_out)`` truncated at 2 std, zero bias, as
            in Saxe et al.'s Keras code) or ``"pytorch"`` (the ``nn.Linear`` default).
        weight_decay: L2 coefficient (coupled, as in ``torch.optim``).
        momentum: Heavy-ball momentum, ``"sgd"`` only.
        device: Where to train; default: ``X``'s device.
        dtype: ``torch.float32`` or ``torch.float64``.

    Attributes:
        seeds: The seeds, in the order of the leading dimension of every result.
        epoch: Epochs completed so far.
        layer_names: ``("layer1", ..., "layer{L}")``; the last is the softmax output.
        train_index: ``(S, n_train)`` LongTensor, each seed's training rows of ``X``.
        test_index: ``(S, N - n_train)`` LongTensor, each seed's test rows.
        n_train: Size of every seed's training split.

    Raises:
        DeepscopeValueError: On any bad argument, e.g. ``widths[0] != X.shape[1]`` or
            labels out of range (:class:`DeepscopeTypeError` for ``X``/``y`` that are not
            tensors or wrongly typed numbers).

    Example:
        >>> X = torch.randn(4096, 12); y = (X[:, 0] > 0).long()
        >>> trainer = StackedMLPTrainer(X, y, seeds=range(5))
        >>> snaps = []
        >>> trainer.run(100, capture_epochs=[0, 10, 100], on_capture=snaps.append)
        >>> snaps[-1].activations[0].shape  # layer1 of 5 seeds on all 4096 inputs
        torch.Size([5, 4096, 10])
    """

    def __init__(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        *,
        widths: Sequence[int] = (12, 10, 7, 5, 4, 3, 2),
        activation: str = "tanh",
        seeds: Iterable[int] = (0,),
        optimizer: str = "adam",
        lr: float = 4e-4,
        batch_size: int = 256,
        train_fraction: float = 0.8,
        init: str = "truncated_normal",
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
    ) -> None:
        self.widths = check_widths(widths, _NAME)
        if self.widths[-1] < 2:
            raise param_error("widths", _NAME, "a sequence ending with at least 2 classes", widths)
        self.activation = check_choice(activation, "activation", _NAME, ACTIVATIONS)
        self.seeds = check_seeds(seeds, _NAME)
        self.optimizer = check_choice(optimizer, "optimizer", _NAME, ("adam", "sgd"))
        self.lr = check_float(lr, "lr", _NAME, low=0.0, closed="neither")
        self.batch_size = check_int(batch_size, "batch_size", _NAME, low=1)
        self.train_fraction = check_float(
            train_fraction, "train_fraction", _NAME, low=0.0, high=1.0, closed="right"
        )
        self.init = check_choice(init, "init", _NAME, ("truncated_normal", "pytorch"))
        self.weight_decay = check_float(weight_decay, "weight_decay", _NAME, low=0.0)
        self.momentum = check_float(momentum, "momentum", _NAME, low=0.0, high=1.0, closed="left")
        if self.optimizer == "adam" and self.momentum != 0.0:
            accepted = "0.0 with optimizer='adam' (it is an 'sgd' option)"
            raise param_error("momentum", _NAME, accepted, momentum)
        check_choice(dtype, "dtype", _NAME, (torch.float32, torch.float64))
        self._X, self._y = _check_data(X, y, self.widths, device, dtype)
        n = self._X.shape[0]
        self.n_train = math.floor(self.train_fraction * n + 1e-9)
        if self.n_train < 1:
            accepted = f"large enough to put at least 1 of the {n} samples in the training split"
            raise param_error("train_fraction", _NAME, accepted, train_fraction)
        self.epoch = 0
        self.layer_names = tuple(f"layer{i + 1}" for i in range(len(self.widths) - 1))
        self._last_capture: int | None = None
        self._setup_seeds()
        self._setup_engine()

    # ------------------------------------------------------------------ construction

    def _setup_seeds(self) -> None:
        n, S = self._X.shape[0], len(self.seeds)
        # torch runs a batch of ONE matrix product through a different BLAS kernel (plain
        # gemm) than batches of two or more (MKL batched gemm), which rounds differently. A
        # single seed is therefore padded with a mirror of itself (a hidden second slot that
        # trains identically), so a seed's numbers do not depend on the seeds beside it.
        self._slots = max(S, 2)
        self._gens = [torch.Generator().manual_seed(s) for s in self.seeds]
        self._layout = _stacked.Layout(self.widths, self._slots)
        opts = {"dtype": self._X.dtype, "device": self._X.device}
        self._params = torch.zeros(self._layout.numel, **opts)
        self._grads = torch.zeros(self._layout.numel, **opts)
        self._weights, self._biases = self._layout.views(self._params)
        splits = []
        for i, g in enumerate(self._gens):
            splits.append(torch.randperm(n, generator=g))
            for l, (w, b) in enumerate(_stacked.init_params(self.widths, self.init, g)):
                self._weights[l][i].copy_(w)
                self._biases[l][i].copy_(b)
        for w, b in zip(self._weights, self._biases):
            w[S:] = w[0]
            b[S:] = b[0]
        split = torch.stack(splits)
        self._set_split(split[:, : self.n_train], split[:, self.n_train :])

    def _pad(self, rows: torch.Tensor) -> torch.Tensor:
        """``rows`` ``(S, ...)`` with copies of row 0 appended up to the number of slots."""
        extra = self._slots - rows.shape[0]
        return torch.cat([rows, rows[:1].expand(extra, *rows.shape[1:])]) if extra else rows

    def _set_split(self, train: torch.Tensor, test: torch.Tensor) -> None:
        self._train_cpu = self._pad(train.to("cpu", torch.long)).contiguous()
        self.train_index = train.to(self._X.device, torch.long).contiguous()
        self.test_index = test.to(self._X.device, torch.long).contiguous()

    def _setup_engine(self) -> None:
        S, n, d, C = self._slots, self.n_train, self.widths[0], self.widths[-1]
        X = self._X
        onehot = torch.nn.functional.one_hot(self._y, C).to(X.dtype)
        self._data = torch.cat([X, onehot], dim=1)  # (N, d + C): one gather per epoch
        self._perm = torch.empty(S, n, dtype=torch.long)  # CPU, filled by the generators
        self._order = torch.empty(S, n, dtype=torch.long)
        self._rows = torch.empty(S * n, d + C, dtype=X.dtype, device=X.device)
        self._epoch_data = torch.empty(S, d + C, n, dtype=X.dtype, device=X.device)
        params = self._weights, self._biases
        grads = self._layout.views(self._grads)
        rows = min(self.batch_size, n)
        workspaces: dict[int, _stacked.Workspace] = {}
        self._plan: list[tuple[list, float]] = []
        for start in range(0, n, rows):
            stop = min(start + rows, n)
            if stop - start not in workspaces:
                workspaces[stop - start] = _stacked.Workspace(self.widths, S, stop - start, X)
            batch = self._epoch_data[:, :, start:stop]
            calls = _stacked.compile_step(
                params, grads, batch[:, :d], batch[:, d:], self.activation, workspaces[stop - start]
            )
            self._plan.append((calls, 1.0 / (stop - start)))
        hyper = {"lr": self.lr, "weight_decay": self.weight_decay}
        if self.optimizer == "adam":
            self._opt = _stacked.FlatAdam(self._params, self._grads, **hyper)
        else:
            self._opt = _stacked.FlatSGD(self._params, self._grads, momentum=self.momentum, **hyper)

    # ----------------------------------------------------------------------- training

    def _train_epoch(self) -> None:
        # Each seed's generator shuffles its own training split; then one gather brings
        # ``[X | onehot(y)]`` of every seed into the feature-major epoch buffer.
        for g, row in zip(self._gens, self._perm):
            torch.randperm(self.n_train, generator=g, out=row)
        if self._slots > len(self.seeds):
            self._perm[len(self.seeds) :] = self._perm[0]
        torch.gather(self._train_cpu, 1, self._perm, out=self._order)
        order = self._order.view(-1).to(self._X.device)
        torch.index_select(self._data, 0, order, out=self._rows)
        self._epoch_data.copy_(self._rows.view(self._slots, self.n_train, -1).transpose(1, 2))
        opt_step = self._opt.step
        with torch.inference_mode():  # all buffers exist already: nothing is created here
            for calls, scale in self._plan:
                for call in calls:
                    call()
                opt_step(scale)
        self.epoch += 1

    def run(
        self,
        until_epoch: int,
        *,
        capture_epochs: Iterable[int] = (),
        on_capture: Callable[[Snapshot], object] | None = None,
        progress: Callable[[int], object] | None = None,
    ) -> None:
        """Train epochs ``self.epoch .. until_epoch - 1``, capturing snapshots on the way.

        Before training epoch ``e`` (that is, after ``e`` completed epochs), if ``e`` is in
        ``capture_epochs``, ``on_capture(self.snapshot())`` is called; ``until_epoch`` is
        captured too if listed. Capture epoch 0 is the initialisation. An epoch already
        captured by the end of the previous ``run`` call is not captured again, so training
        can be split over several calls with one list of capture epochs.

        Args:
            until_epoch: Total number of epochs completed when this returns (>= ``self.epoch``).
            capture_epochs: Epoch counts at which to take a :class:`Snapshot`.
            on_capture: Receives each snapshot; required when ``capture_epochs`` is not empty.
            progress: Called with the number of completed epochs after every epoch.

        Raises:
            DeepscopeValueError: On ``until_epoch < self.epoch`` or bad capture epochs.
        """
        func = f"{_NAME}.run"
        until_epoch = check_int(until_epoch, "until_epoch", func, low=self.epoch)
        if isinstance(capture_epochs, (str, bytes)):
            raise param_error("capture_epochs", func, "an iterable of ints", capture_epochs)
        wanted = {check_int(e, "capture_epochs", func, low=0) for e in capture_epochs}
        if wanted and not callable(on_capture):
            accepted = "a callable when capture_epochs is given"
            raise param_error("on_capture", func, accepted, on_capture)
        if progress is not None and not callable(progress):
            raise param_error("progress", func, "a callable or None", progress)
        while True:
            if self.epoch in wanted and self._last_capture != self.epoch:
                on_capture(self.snapshot())
                self._last_capture = self.epoch
            if self.epoch >= until_epoch:
                break
            self._train_epoch()
            if progress is not None:
                progress(self.epoch)

    # ----------------------------------------------------------------------- readouts

    @torch.no_grad()
    def snapshot(self) -> Snapshot:
        """Forward ALL ``N`` inputs through every seed at the current parameters.

        Returns:
            A :class:`Snapshot` with fresh tensors (they do not alias the trainer's state).
        """
        S = len(self.seeds)
        h = self._X.expand(self._slots, *self._X.shape)
        activations = []
        for l, (w, b) in enumerate(zip(self._weights, self._biases)):
            z = torch.baddbmm(b.unsqueeze(1), h, w)
            h = z if l == len(self._weights) - 1 else _stacked.apply_activation(self.activation, z)
            activations.append(h[:S] if self._slots > S else h)
        logits = activations[-1]
        activations[-1], log_probs = _stacked.softmax_and_log(logits)
        labels = self._y.expand(S, -1)
        nll = -log_probs.gather(2, labels.unsqueeze(2)).squeeze(2)
        correct = (logits.argmax(dim=-1) == labels).to(logits.dtype)

        def split_mean(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
            if index.shape[1] == 0:
                return torch.full((S,), float("nan"), dtype=values.dtype, device=values.device)
            # One 1-D reduction per seed: a (S, n) reduction may sum in an order that
            # depends on S, and a seed's numbers must not depend on its neighbours.
            return torch.stack([v.index_select(0, i).mean() for v, i in zip(values, index)])

        return Snapshot(
            epoch=self.epoch,
            layer_names=self.layer_names,
            activations=tuple(activations),
            train_loss=split_mean(nll, self.train_index),
            train_acc=split_mean(correct, self.train_index),
            test_loss=split_mean(nll, self.test_index),
            test_acc=split_mean(correct, self.test_index),
            seeds=self.seeds,
        )

    def to_module(self, i: int) -> MLP:
        """Seed index ``i`` (not the seed value) as an ordinary :class:`deepscope.nets.MLP`.

        The module holds copies of the current weights, on the trainer's device and dtype;
        its forward returns **logits** (the trainer's last layer is their softmax).
        """
        i = check_int(i, "i", f"{_NAME}.to_module", low=0, high=len(self.seeds) - 1)
        net = MLP(self.widths, self.activation).to(device=self._X.device, dtype=self._X.dtype)
        with torch.no_grad():
            for fc, w, b in zip(net.linear_layers, self._weights, self._biases):
                fc.weight.copy_(w[i].T)
                fc.bias.copy_(b[i])
        return net

    # -------------------------------------------------------------------- checkpoints

    def _structure(self) -> dict:
        return {
            "widths": self.widths,
            "activation": self.activation,
            "seeds": self.seeds,
            "optimizer": self.optimizer,
            "momentum": self.momentum > 0,
            "batch_size": self.batch_size,
            "n_samples": self._X.shape[0],
            "n_train": self.n_train,
        }

    def state_dict(self) -> dict:
        """Everything needed to resume bit-identically: copies of the parameters, optimizer
        moments and step count (on the trainer's device), the epoch, the epoch last captured,
        each seed's generator state and the splits (on CPU). Loadable with ``torch.load(..., weights_only=True)``."""
        return {
            "format": _FORMAT,
            "structure": self._structure(),
            "hyperparameters": {
                "lr": self.lr,
                "weight_decay": self.weight_decay,
                "momentum": self.momentum,
                "init": self.init,
            },
            "epoch": self.epoch,
            "params": self._params.clone(),
            "optimizer": self._opt.state_dict(),
            "rng_states": [g.get_state() for g in self._gens],
            "train_index": self.train_index.cpu().clone(),
            "test_index": self.test_index.cpu().clone(),
            "last_capture": self._last_capture,
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` taken from a trainer of the same structure.

        The structure (widths, activation, seeds, optimizer, batch size, data size) must
        match; this trainer's data and hyperparameters are kept.

        Raises:
            DeepscopeValueError: If ``state`` is not such a state dict.
        """
        func = f"{_NAME}.load_state_dict"
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise param_error("state", func, f"a dict from {_NAME}.state_dict()",
                              Described(type(state).__name__))
        saved = state["structure"]
        structure = {k: tuple(v) if isinstance(v, list) else v for k, v in saved.items()}
        if structure != self._structure():
            raise DeepscopeValueError(
                f"The 'state' parameter of {func} must come from a trainer with the same "
                f"structure {self._structure()}. Got {state['structure']}."
            )
        self._params.copy_(state["params"])
        self._opt.load_state_dict(state["optimizer"])
        for g, s in zip(self._gens, state["rng_states"]):
            g.set_state(s)
        self._set_split(state["train_index"], state["test_index"])
        self.epoch = int(state["epoch"])
        # The epoch last captured travels with the state, so training split over several
        # ``run`` calls -- across a save and load too -- never captures an epoch twice.
        last = state.get("last_capture")
        self._last_capture = None if last is None else int(last)

    # ------------------------------------------------------------------ test seams

    def _batch_gradients(self, index: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Gradients of each seed's mean loss on samples ``index`` ``(S, rows)``, per layer.

        Runs the same compiled program as training on a temporary workspace; leaves the
        gradient buffer holding the summed-loss gradient. Returns copies of ``(gW, gb)``.
        """
        S, rows = index.shape
        index = self._pad(index.to(self._X.device))
        data = self._data[index.reshape(-1)].view(self._slots, rows, -1).transpose(1, 2)
        data, d = data.contiguous(), self.widths[0]
        ws = _stacked.Workspace(self.widths, self._slots, rows, self._X)
        params, grads = (self._weights, self._biases), self._layout.views(self._grads)
        calls = _stacked.compile_step(params, grads, data[:, :d], data[:, d:], self.activation, ws)
        with torch.no_grad():
            for call in calls:
                call()
        gw, gb = self._layout.views(self._grads)
        return [(w[:S].clone() / rows, b[:S].clone() / rows) for w, b in zip(gw, gb)]

    def _batch_step(self, index: torch.Tensor) -> None:
        """One optimizer step on samples ``index`` ``(S, rows)`` (test seam)."""
        self._batch_gradients(index)
        with torch.no_grad():
            self._opt.step(1.0 / index.shape[1])


def _check_data(
    X: torch.Tensor,
    y: torch.Tensor,
    widths: tuple[int, ...],
    device: torch.device | str | None,
    dtype: torch.dtype,
) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(X, torch.Tensor):
        raise param_error("X", _NAME, "a tensor", Described(type(X).__name__), type_error=True)
    if X.dim() != 2 or X.shape[0] < 1 or X.is_complex():
        raise param_error("X", _NAME, "a real 2-D tensor (N, d), N >= 1",
                          Described(_describe(X)))
    device = X.device if device is None else torch.device(device)
    X = X.detach().to(device=device, dtype=dtype).contiguous()
    if not torch.isfinite(X).all():
        raise param_error("X", _NAME, "finite", Described("a tensor containing NaN or inf"))
    if widths[0] != X.shape[1]:
        accepted = f"a sequence starting with X.shape[1] = {X.shape[1]}"
        raise param_error("widths", _NAME, accepted, widths)
    n, c = X.shape[0], widths[-1]
    if not isinstance(y, torch.Tensor):
        raise param_error("y", _NAME, "a tensor", Described(type(y).__name__), type_error=True)
    if y.shape != (n,) or y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
        raise param_error("y", _NAME, f"an integer tensor of shape ({n},)",
                          Described(_describe(y)))
    y = y.detach().to(device=device, dtype=torch.long).contiguous()
    lo, hi = int(y.min()), int(y.max())
    if lo < 0 or hi >= c:
        accepted = f"class labels in [0, {c - 1}] (widths[-1] = {c} classes)"
        raise param_error("y", _NAME, accepted, Described(f"labels in [{lo}, {hi}]"))
    return X, y


def _describe(t: torch.Tensor) -> str:
    return f"a {str(t.dtype).removeprefix('torch.')} tensor of shape {tuple(t.shape)}"
