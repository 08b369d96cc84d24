"""The one training loop: :func:`fit`.

Every study trains through :func:`fit` (or an engine behind it, passed as ``step_fn``).
The loop owns what studies used to repeat: seeded minibatches that never touch the global
RNG, the optimizer, a capture schedule, early stopping, progress and resumable state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from deepscope.errors import (
    DeepscopeValueError,
    check_choice,
    check_float,
    check_int,
    param_error,
)
from deepscope.seeding import make_generator

__all__ = ["FitResult", "fit"]

_FUNC = "fit"
_OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class FitResult:
    """What :func:`fit` did.

    Attributes:
        steps: Optimizer steps taken in total (including those of a resumed run).
        epochs: Full passes over the data completed (tensor or iterable data); 0 for a stream.
        losses: The loss (or the ``"loss"`` log of a custom ``step_fn``) of every step taken
            in this call, as float64; NaN where a step logged no loss.
        stopped: ``True`` when ``on_step`` asked to stop before the budget.
        seed: The seed of the batch order (``None`` when a Generator was passed).
        optimizer: The optimizer, to continue training or to save its state.
        state: What :func:`fit` needs to continue exactly where it stopped (pass it back as
            ``resume=``): the step, the epoch, the batch generator's state and the position
            in the current epoch's order. Model weights and optimizer state are the caller's
            to save (``model.state_dict()``, ``optimizer.state_dict()``).
    """

    steps: int
    epochs: int
    losses: np.ndarray
    stopped: bool
    seed: int | None
    optimizer: Any = field(repr=False)
    state: dict = field(repr=False)


def _map(batch: Any, fn: Callable[[torch.Tensor], Any]) -> Any:
    """Apply ``fn`` to every tensor of a batch (tensor, tuple/list, or mapping)."""
    if isinstance(batch, torch.Tensor):
        return fn(batch)
    if isinstance(batch, Mapping):
        return {k: _map(v, fn) for k, v in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_map(v, fn) for v in batch)
    return batch


def _first_len(x: Any) -> int | None:
    if isinstance(x, torch.Tensor):
        return int(x.shape[0]) if x.dim() else None
    if isinstance(x, Mapping):
        for v in x.values():
            n = _first_len(v)
            if n is not None:
                return n
    if isinstance(x, (tuple, list)):
        for v in x:
            n = _first_len(v)
            if n is not None:
                return n
    return None


def _tensor_pair(data: Any) -> int | None:
    """The number of samples when ``data`` is an ``(inputs, targets)`` pair of tensors."""
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        return None
    n_in, n_t = _first_len(data[0]), _first_len(data[1])
    if n_in is None or n_t is None:
        return None
    if n_in != n_t:
        raise param_error("data", _FUNC, "an (inputs, targets) pair with as many targets as "
                          "inputs", f"{n_in} inputs and {n_t} targets")
    return n_in


def _device_of(model: nn.Module) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def _make_optimizer(optimizer: Any, model: nn.Module, lr: float, momentum: float,
                    weight_decay: float) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    params = [p for p in model.parameters() if p.requires_grad]
    if isinstance(optimizer, str):
        check_choice(optimizer, "optimizer", _FUNC, _OPTIMIZERS)
        if not params:
            raise param_error("model", _FUNC, "a module with trainable parameters",
                              type(model).__name__)
        if optimizer == "sgd":
            return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if callable(optimizer):
        opt = optimizer(params)
        if not isinstance(opt, torch.optim.Optimizer):
            raise param_error("optimizer", _FUNC, "a callable returning a torch.optim.Optimizer",
                              type(opt).__name__, type_error=True)
        return opt
    raise param_error("optimizer", _FUNC, "'sgd', 'adam', a torch.optim.Optimizer or a callable "
                      "params -> Optimizer", type(optimizer).__name__, type_error=True)


class _Batches:
    """Batches of ``data`` for step after step, with the position saved in ``state``."""

    def __init__(self, data: Any, batch_size: int | None, generator: torch.Generator,
                 device: torch.device, resume: dict | None) -> None:
        self.generator = generator
        self.device = device
        self.n = _tensor_pair(data)
        self.data = data
        self.epoch = 0
        self.pos = 0
        self.order: torch.Tensor | None = None
        if self.n is not None:
            self.kind = "tensors"
            size = self.n if batch_size is None else batch_size
            if size > self.n:
                raise param_error("batch_size", _FUNC, f"None or an int in [1, {self.n}] (the "
                                  "number of samples)", batch_size)
            self.size = size
        elif callable(data) and not isinstance(data, (nn.Module, torch.Tensor)):
            self.kind = "stream"
            if batch_size is not None:
                raise param_error("batch_size", _FUNC, "None when data is a callable "
                                  "data(step, generator) -> batch", batch_size)
        elif isinstance(data, Iterable) and not isinstance(data, (str, bytes, torch.Tensor)):
            self.kind = "iterable"
            self.iterator: Iterator | None = None
            if batch_size is not None:
                raise param_error("batch_size", _FUNC, "None when data is an iterable of "
                                  "batches (the iterable sets the batch size)", batch_size)
        else:
            raise param_error("data", _FUNC, "an (inputs, targets) pair of tensors, an iterable "
                              "of batches (e.g. a DataLoader) or a callable data(step, generator)",
                              type(data).__name__, type_error=True)
        if resume:
            self.epoch = int(resume.get("epoch", 0))
            self.pos = int(resume.get("pos", 0))
            if resume.get("generator") is not None:
                self.generator.set_state(resume["generator"])
            if resume.get("order") is not None:
                self.order = resume["order"].clone()
            if self.kind == "iterable" and self.pos:
                raise DeepscopeValueError(
                    "fit cannot resume in the middle of an epoch over an iterable of batches; "
                    "checkpoint at epoch ends (schedule) or pass tensors.")

    def state(self) -> dict:
        return {"epoch": self.epoch, "pos": self.pos, "generator": self.generator.get_state(),
                "order": None if self.order is None else self.order.clone()}

    def next(self, step: int) -> Any:
        if self.kind == "stream":
            batch = self.data(step, self.generator)
        elif self.kind == "tensors":
            if self.order is None or self.pos >= self.n:
                if self.size == self.n:
                    self.order = torch.arange(self.n)
                else:
                    self.order = torch.randperm(self.n, generator=self.generator)
                self.pos = 0
            index = self.order[self.pos:self.pos + self.size]
            self.pos += self.size
            if self.pos >= self.n:
                self.epoch += 1
            if self.size == self.n:
                batch = self.data
            else:
                batch = tuple(_map(part, lambda t, i=index: t[i.to(t.device)])
                              for part in self.data)
        else:
            while True:
                if self.iterator is None:
                    self.iterator = iter(self.data)
                try:
                    batch = next(self.iterator)
                    break
                except StopIteration:
                    if self.pos == 0:
                        raise param_error("data", _FUNC, "a non-empty iterable of batches",
                                          "an iterable that yielded nothing") from None
                    self.iterator = None
                    self.epoch += 1
                    self.pos = 0
            self.pos += 1
        return _map(batch, lambda t: t.to(self.device))


def _default_step(loss_fn: Callable) -> Callable:
    def step(model: nn.Module, batch: Any, optimizer: torch.optim.Optimizer) -> dict:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise param_error("data", _FUNC, "batches that are (inputs, targets) pairs",
                              type(batch).__name__, type_error=True)
        inputs, targets = batch
        optimizer.zero_grad(set_to_none=True)
        if isinstance(inputs, Mapping):
            out = model(**inputs)
        elif isinstance(inputs, tuple):
            out = model(*inputs)
        else:
            out = model(inputs)
        loss = loss_fn(out, targets)
        if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
            raise param_error("loss_fn", _FUNC, "a callable returning a scalar tensor",
                              type(loss).__name__, type_error=True)
        loss.backward()
        optimizer.step()
        return {"loss": float(loss.detach())}
    return step


def _check_budget(steps: Any, epochs: Any, batches: _Batches) -> tuple[int | None, int | None]:
    if steps is None and epochs is None:
        raise DeepscopeValueError("fit needs a budget: pass steps=... or epochs=....")
    if steps is not None:
        check_int(steps, "steps", _FUNC, low=0)
    if epochs is not None:
        check_int(epochs, "epochs", _FUNC, low=0)
        if batches.kind == "stream":
            raise param_error("epochs", _FUNC, "None when data is a stream (use steps)", epochs)
    return steps, epochs


def fit(
    model: nn.Module,
    loss_fn: Callable | None,
    data: Any,
    *,
    optimizer: Any = "sgd",
    lr: float = 0.1,
    momentum: float = 0.0,
    weight_decay: float = 0.0,
    steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    seed: int | torch.Generator = 0,
    schedule: Iterable[int] | None = None,
    on_step: Callable[[int, nn.Module, dict], Any] | None = None,
    step_fn: Callable[[nn.Module, Any, Any], dict] | None = None,
    lr_scheduler: Callable[[torch.optim.Optimizer], Any] | None = None,
    progress: Callable[[str, int], contextlib.AbstractContextManager] | None = None,
    resume: dict | None = None,
) -> FitResult:
    """Train ``model`` on ``data``: the one training loop of deepscope.

    Each step draws a batch, runs ``step_fn(model, batch, optimizer)`` (by default: zero
    the gradients, forward, ``loss_fn(outputs, targets)``, backward, ``optimizer.step()``)
    and, at the steps in ``schedule`` (every step when ``None``), calls
    ``on_step(step, model, logs)``; a truthy return stops training. Steps are numbered
    from 1; ``0`` in ``schedule`` calls ``on_step`` once before the first step.

    The batch order comes from its own :class:`torch.Generator` seeded with ``seed``: the
    global RNG is never read or written, and a seed's batches do not depend on anything
    else running. The model's initialisation is the caller's (seed it with its own
    generator).

    Args:
        model: The module to train, in place. Left in the training mode it had.
        loss_fn: ``loss_fn(outputs, targets) -> scalar`` (unused with a custom ``step_fn``).
        data: An ``(inputs, targets)`` pair (inputs a tensor, a tuple or a dict of tensors;
            shuffled minibatches of ``batch_size`` every epoch, the full batch when ``None``),
            an iterable of such batches (a DataLoader: one pass per epoch), or a callable
            ``data(step, generator) -> batch`` drawing fresh samples.
        optimizer: ``"sgd"``, ``"adam"``, a ``torch.optim.Optimizer`` or a callable
            ``params -> Optimizer``; ``None`` with a ``step_fn`` that updates the model
            itself (a vectorised engine with hand-written gradients; it gets ``None``).
        lr: Learning rate of ``"sgd"`` / ``"adam"``.
        momentum: Momentum of ``"sgd"``.
        weight_decay: Weight decay of ``"sgd"`` / ``"adam"``.
        steps: Stop after this many steps in total (a resumed run counts its earlier ones).
        epochs: Stop after this many passes over the data (tensors or an iterable).
        batch_size: Minibatch size for tensor data.
        seed: Seed (or Generator) of the batch order and of a stream's samples.
        schedule: Steps at which ``on_step`` is called.
        on_step: ``on_step(step, model, logs) -> stop?``; ``logs`` holds the step's logs.
        step_fn: Custom update ``step_fn(model, batch, optimizer) -> dict`` of floats, e.g.
            contrastive divergence or a closed-form-gradient engine.
        lr_scheduler: ``lr_scheduler(optimizer) -> scheduler``, stepped after every step.
        progress: ``progress(description, total)`` context manager yielding a task with
            ``advance(n)`` (:meth:`deepscope.studies.StudyContext.task` fits).
        resume: ``FitResult.state`` of an earlier call, to continue exactly where it stopped.

    Returns:
        FitResult: steps and epochs done, the per-step losses, whether ``on_step`` stopped
        it, the optimizer and the state to resume from.

    Raises:
        DeepscopeValueError: a bad budget, batch size or data.

    Example:
        >>> import torch
        >>> from deepscope.train import fit
        >>> model = torch.nn.Linear(2, 1)
        >>> x = torch.randn(32, 2, generator=torch.Generator().manual_seed(0))
        >>> y = x.sum(1, keepdim=True)
        >>> res = fit(model, torch.nn.functional.mse_loss, (x, y), lr=0.1, steps=200)
        >>> res.steps, bool(res.losses[-1] < 1e-4)
        (200, True)
    """
    from deepscope.lenses._model import check_model

    check_model(model, _FUNC)
    custom_step = step_fn
    if step_fn is None:
        if not callable(loss_fn):
            raise param_error("loss_fn", _FUNC, "a callable loss_fn(outputs, targets)",
                              type(loss_fn).__name__, type_error=True)
        step_fn = _default_step(loss_fn)
    elif not callable(step_fn):
        raise param_error("step_fn", _FUNC, "None or a callable step_fn(model, batch, optimizer)",
                          type(step_fn).__name__, type_error=True)
    check_float(lr, "lr", _FUNC, low=0.0)
    check_float(momentum, "momentum", _FUNC, low=0.0)
    check_float(weight_decay, "weight_decay", _FUNC, low=0.0)
    if batch_size is not None:
        check_int(batch_size, "batch_size", _FUNC, low=1)
    if on_step is not None and not callable(on_step):
        raise param_error("on_step", _FUNC, "None or a callable on_step(step, model, logs)",
                          type(on_step).__name__, type_error=True)
    generator, seed_value = make_generator(seed, "seed", _FUNC)
    batches = _Batches(data, batch_size, generator, _device_of(model), resume)
    steps, epochs = _check_budget(steps, epochs, batches)
    when: set[int] | None = None
    if schedule is not None:
        try:
            when = {int(s) for s in schedule}
        except (TypeError, ValueError):
            raise param_error("schedule", _FUNC, "None or an iterable of step numbers",
                              schedule) from None
    if optimizer is None:  # the step_fn updates the model itself (a vectorised engine)
        if custom_step is None:
            raise param_error("optimizer", _FUNC, "'sgd', 'adam', an Optimizer or a callable "
                              "(None only with a step_fn that updates the model itself)", None)
        if lr_scheduler is not None:
            raise param_error("lr_scheduler", _FUNC, "None when optimizer is None",
                              lr_scheduler)
        opt = None
    else:
        opt = _make_optimizer(optimizer, model, lr, momentum, weight_decay)
    if opt is not None and resume and resume.get("optimizer") is not None:
        opt.load_state_dict(resume["optimizer"])
    scheduler = lr_scheduler(opt) if lr_scheduler is not None else None
    if scheduler is not None and resume and resume.get("scheduler") is not None:
        scheduler.load_state_dict(resume["scheduler"])
    step = int(resume.get("step", 0)) if resume else 0
    losses: list[float] = []
    stopped = False
    was_training = model.training
    total = steps if steps is not None else (
        epochs * -(-batches.n // batches.size) if batches.kind == "tensors" else 0)
    bar = progress("training", max(total - step, 0)) if progress else contextlib.nullcontext()
    model.train()
    try:
        with bar as task:
            if when is not None and 0 in when and step == 0 and on_step is not None:
                stopped = bool(on_step(0, model, {}))
            while not stopped:
                if steps is not None and step >= steps:
                    break
                if epochs is not None and batches.epoch >= epochs:
                    break
                batch = batches.next(step + 1)
                if (epochs is not None and batches.kind == "iterable"
                        and batches.epoch >= epochs):
                    break
                logs = step_fn(model, batch, opt) or {}
                if scheduler is not None:
                    scheduler.step()
                step += 1
                loss = logs.get("loss", float("nan"))
                losses.append(float(loss))
                if task is not None:
                    task.advance(1)
                if on_step is not None and (when is None or step in when):
                    if on_step(step, model, logs):
                        stopped = True
    finally:
        model.train(was_training)
    state = batches.state()
    state.update(step=step, optimizer=None if opt is None else opt.state_dict(),
                 scheduler=scheduler.state_dict() if scheduler is not None else None)
    return FitResult(steps=step, epochs=batches.epoch, losses=np.asarray(losses, np.float64),
                     stopped=stopped, seed=seed_value, optimizer=opt, state=state)
