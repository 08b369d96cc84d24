"""Tests of deepscope.train.StackedMLPTrainer: many seeds of an MLP trained at once."""

from __future__ import annotations

import io
import math
import re

import pytest
import torch
import torch.nn.functional as F

from deepscope.errors import DeepscopeError
from deepscope.nets import MLP
from deepscope.train import Snapshot, StackedMLPTrainer

F64 = torch.float64
ACTIVATIONS = ("tanh", "relu", "sigmoid", "leaky_relu", "linear")


def make_data(n=60, d=5, classes=3, seed=0, dtype=F64):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=dtype)
    w = torch.randn(d, classes, generator=g, dtype=dtype)
    y = (X @ w + 0.5 * torch.randn(n, classes, generator=g, dtype=dtype)).argmax(1)
    return X, y


def small_trainer(X, y, **kw):
    opts = {"widths": (X.shape[1], 6, 4, int(y.max()) + 1), "dtype": X.dtype, "batch_size": 16}
    opts.update(kw)
    return StackedMLPTrainer(X, y, **opts)


def params_of(net):
    return [p.detach().clone() for p in net.parameters()]


def assert_nets_close(a, b, **tol):
    for pa, pb in zip(a.parameters(), b.parameters()):
        torch.testing.assert_close(pa, pb, **tol)


def hidden_outputs(net: MLP, x):
    """Post-activation outputs of every hidden layer, then the softmax of the logits."""
    outs, h = [], x
    for name, module in net.named_children():
        h = module(h)
        if name.startswith("act"):
            outs.append(h)
    outs.append(torch.softmax(h, dim=-1))
    return outs, h


# --------------------------------------------------------------------------- gradients


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("rows", [16, 7])
def test_gradients_match_autograd(activation, rows):
    X, y = make_data()
    tr = small_trainer(X, y, activation=activation, seeds=(0, 1, 2), init="pytorch")
    g = torch.Generator().manual_seed(1)
    index = torch.stack([torch.randperm(X.shape[0], generator=g)[:rows] for _ in range(3)])
    grads = tr._batch_gradients(index)
    for i in range(3):
        net = tr.to_module(i)
        F.cross_entropy(net(X[index[i]]), y[index[i]]).backward()
        for (gw, gb), fc in zip(grads, net.linear_layers):
            torch.testing.assert_close(gw[i], fc.weight.grad.T, rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(gb[i], fc.bias.grad, rtol=1e-10, atol=1e-12)


# -------------------------------------------------------------------------- optimizers


OPTIMIZERS = [
    ("adam", {}, lambda p: torch.optim.Adam(p, lr=0.01)),
    ("adam", {"weight_decay": 0.1}, lambda p: torch.optim.Adam(p, lr=0.01, weight_decay=0.1)),
    ("sgd", {}, lambda p: torch.optim.SGD(p, lr=0.1)),
    (
        "sgd",
        {"momentum": 0.9, "weight_decay": 0.01},
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    ),
]


@pytest.mark.parametrize(("optimizer", "kw", "make_opt"), OPTIMIZERS)
def test_steps_match_torch_optim(optimizer, kw, make_opt):
    X, y = make_data()
    lr = 0.01 if optimizer == "adam" else 0.1
    tr = small_trainer(X, y, seeds=(4, 9), optimizer=optimizer, lr=lr, **kw)
    nets = [tr.to_module(i) for i in range(2)]
    opts = [make_opt(net.parameters()) for net in nets]
    g = torch.Generator().manual_seed(2)
    for rows in (16, 16, 5):  # three steps, the last on a partial batch
        index = torch.stack([torch.randperm(X.shape[0], generator=g)[:rows] for _ in range(2)])
        tr._batch_step(index)
        for i, (net, opt) in enumerate(zip(nets, opts)):
            opt.zero_grad()
            F.cross_entropy(net(X[index[i]]), y[index[i]]).backward()
            opt.step()
            assert_nets_close(tr.to_module(i), net, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("optimizer", "kw", "make_opt"), [OPTIMIZERS[0], OPTIMIZERS[3]])
def test_epochs_match_a_plain_training_loop(optimizer, kw, make_opt):
    # 48 training rows in batches of 20: 20, 20 and a partial batch of 8.
    X, y = make_data()
    lr = 0.01 if optimizer == "adam" else 0.1
    tr = small_trainer(X, y, seeds=(0, 1), optimizer=optimizer, lr=lr, batch_size=20, **kw)
    assert tr.n_train == 48
    nets = [tr.to_module(i) for i in range(2)]
    opts = [make_opt(net.parameters()) for net in nets]
    for epoch in (1, 2):
        tr.run(epoch)
        for i, (net, opt) in enumerate(zip(nets, opts)):
            order = tr._order[i]  # the epoch's sample order of seed i
            assert sorted(order.tolist()) == sorted(tr.train_index[i].tolist())
            for batch in order.split(20):
                opt.zero_grad()
                F.cross_entropy(net(X[batch]), y[batch]).backward()
                opt.step()
            assert_nets_close(tr.to_module(i), net, rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------------ seeds and state


def assert_bitwise(a, b):
    assert torch.equal(a, b), (a - b).abs().max()


def study_like(n=256, seed=0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randint(0, 2, (n, 12), generator=g).float()
    y = (X.sum(1) % 2).long()
    return X, y


@pytest.mark.parametrize("activation", ["tanh", "relu", "sigmoid"])
@pytest.mark.parametrize("among", [(0, 1, 2), (7, 1, 4, 0, 3)])
def test_seeds_are_independent_and_bit_identical(activation, among):
    # 240 training rows in batches of 52 (and a partial batch of 32): per-seed blocks are not
    # multiples of the SIMD width, so thread splits and vector tails land inside seeds.
    X, y = study_like(n=300)
    kw = {"activation": activation, "batch_size": 52}
    crowd = StackedMLPTrainer(X, y, seeds=among, **kw)
    crowd.run(3)
    sb = crowd.snapshot()
    for i, seed in enumerate(among):
        alone = StackedMLPTrainer(X, y, seeds=(seed,), **kw)
        alone.run(3)
        assert torch.equal(alone.train_index[0], crowd.train_index[i])
        assert torch.equal(alone.test_index[0], crowd.test_index[i])
        for a, b in zip(alone.to_module(0).parameters(), crowd.to_module(i).parameters()):
            assert_bitwise(a, b)
        sa = alone.snapshot()
        for a, b in zip(sa.activations, sb.activations):
            assert_bitwise(a[0], b[i])
        for metric in ("train_loss", "train_acc", "test_loss", "test_acc"):
            assert_bitwise(getattr(sa, metric)[0], getattr(sb, metric)[i])


def test_same_seed_is_deterministic_and_different_seeds_differ():
    X, y = study_like()
    runs = []
    for _ in range(2):
        tr = StackedMLPTrainer(X, y, seeds=(0, 1), batch_size=64)
        tr.run(2)
        runs.append(tr)
    assert torch.equal(runs[0]._params, runs[1]._params)
    a, b = runs[0].to_module(0), runs[0].to_module(1)
    assert not torch.equal(a.fc1.weight, b.fc1.weight)
    assert not torch.equal(runs[0].train_index[0], runs[0].train_index[1])


def test_state_dict_round_trip_resumes_bit_identically():
    X, y = study_like()
    kw = {"seeds": (0, 5), "batch_size": 48}
    ref = StackedMLPTrainer(X, y, **kw)
    ref.run(3)
    buffer = io.BytesIO()
    torch.save(ref.state_dict(), buffer)
    ref.run(5)

    buffer.seek(0)
    resumed = StackedMLPTrainer(X, y, **kw)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    assert resumed.epoch == 3
    resumed.run(5)
    assert resumed.epoch == 5
    assert torch.equal(resumed._params, ref._params)
    assert torch.equal(resumed._opt.exp_avg_sq, ref._opt.exp_avg_sq)
    assert torch.equal(resumed.train_index, ref.train_index)
    assert torch.equal(resumed.snapshot().activations[2], ref.snapshot().activations[2])


def test_load_state_dict_rejects_other_structure():
    X, y = study_like()
    state = StackedMLPTrainer(X, y, seeds=(0, 1)).state_dict()
    other = StackedMLPTrainer(X, y, seeds=(0, 2))
    with pytest.raises(DeepscopeError, match="same structure"):
        other.load_state_dict(state)
    with pytest.raises(DeepscopeError, match="'state' parameter"):
        other.load_state_dict({"params": 1})


# --------------------------------------------------------------------- snapshots / run


@pytest.mark.parametrize("activation", ["tanh", "leaky_relu"])
def test_snapshot_matches_module_forward(activation):
    X, y = make_data(n=50)
    tr = small_trainer(X, y, activation=activation, seeds=(1, 2, 3), train_fraction=0.7)
    tr.run(2)
    snap = tr.snapshot()
    assert isinstance(snap, Snapshot)
    assert snap.epoch == 2 and snap.layer_names == ("layer1", "layer2", "layer3")
    assert snap.seeds == (1, 2, 3)
    assert [tuple(a.shape) for a in snap.activations] == [(3, 50, 6), (3, 50, 4), (3, 50, 3)]
    for i in range(3):
        outs, logits = hidden_outputs(tr.to_module(i), X)
        for got, want in zip(snap.activations, outs):
            torch.testing.assert_close(got[i], want, rtol=1e-12, atol=1e-12)
        for split in ("train", "test"):
            idx = getattr(tr, f"{split}_index")[i]
            loss = F.cross_entropy(logits[idx], y[idx])
            acc = (logits[idx].argmax(1) == y[idx]).double().mean()
            torch.testing.assert_close(getattr(snap, f"{split}_loss")[i], loss)
            torch.testing.assert_close(getattr(snap, f"{split}_acc")[i], acc)
    frame = snap.to_frame()
    assert list(frame.columns) == ["epoch", "seed", "metric", "value"]
    assert len(frame) == 12 and set(frame["seed"]) == {1, 2, 3}


def test_snapshot_does_not_alias_training_state():
    X, y = make_data()
    tr = small_trainer(X, y)
    snap = tr.snapshot()
    before = [a.clone() for a in snap.activations]
    tr.run(1)
    for a, b in zip(snap.activations, before):
        assert torch.equal(a, b)


def test_run_captures_and_reports_progress():
    X, y = make_data()
    tr = small_trainer(X, y, seeds=(0, 1))
    snaps, done = [], []
    tr.run(5, capture_epochs=[0, 2, 5, 9], on_capture=snaps.append, progress=done.append)
    assert [s.epoch for s in snaps] == [0, 2, 5]
    assert done == [1, 2, 3, 4, 5] and tr.epoch == 5
    # Capture epoch 0 is the initialisation.
    fresh = small_trainer(X, y, seeds=(0, 1))
    torch.testing.assert_close(snaps[0].train_loss, fresh.snapshot().train_loss, rtol=0, atol=0)


def test_run_split_over_calls_does_not_capture_twice():
    X, y = make_data()
    tr = small_trainer(X, y)
    snaps = []
    caps = [0, 2, 3, 4]
    tr.run(2, capture_epochs=caps, on_capture=snaps.append)
    tr.run(4, capture_epochs=caps, on_capture=snaps.append)
    tr.run(4, capture_epochs=caps, on_capture=snaps.append)
    assert [s.epoch for s in snaps] == [0, 2, 3, 4]


def test_split_over_a_save_and_load_does_not_capture_twice():
    X, y = make_data()
    tr = small_trainer(X, y)
    snaps = []
    caps = [0, 2, 3]
    tr.run(2, capture_epochs=caps, on_capture=snaps.append)  # captures 0 and 2
    buffer = io.BytesIO()
    torch.save(tr.state_dict(), buffer)
    buffer.seek(0)
    resumed = small_trainer(X, y)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    resumed.run(3, capture_epochs=caps, on_capture=snaps.append)  # 2 was taken already
    assert [s.epoch for s in snaps] == [0, 2, 3]


def test_training_learns_a_separable_problem():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(300, 2, generator=g)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).long()
    tr = StackedMLPTrainer(X, y, widths=(2, 8, 2), seeds=(0, 1, 2), lr=0.03, batch_size=32)
    start = tr.snapshot()
    tr.run(60)
    end = tr.snapshot()
    assert (end.train_acc > 0.95).all() and (end.test_acc > 0.9).all()
    assert (end.train_loss < start.train_loss).all()


# ----------------------------------------------------------------- split, init, module


def test_split_is_a_per_seed_partition():
    X, y = make_data(n=60)
    tr = small_trainer(X, y, seeds=(0, 1, 2), train_fraction=0.75)
    assert tr.train_index.shape == (3, 45) and tr.test_index.shape == (3, 15)
    for i in range(3):
        both = torch.cat([tr.train_index[i], tr.test_index[i]])
        assert sorted(both.tolist()) == list(range(60))
    full = small_trainer(X, y, train_fraction=1.0)
    assert full.test_index.shape == (1, 0) and math.isnan(full.snapshot().test_loss.item())


def test_truncated_normal_and_pytorch_inits():
    X = torch.randn(10, 40, dtype=F64)
    y = torch.zeros(10, dtype=torch.long)
    tr = StackedMLPTrainer(X, y, widths=(40, 100, 2), dtype=F64)
    w = tr.to_module(0).fc1.weight
    std = 1 / math.sqrt(100)
    assert w.abs().max() <= 2 * std
    assert abs(w.std().item() - 0.8796 * std) < 0.05 * std  # std of N(0,1) truncated at +-2
    assert torch.equal(tr.to_module(0).fc1.bias, torch.zeros(100, dtype=F64))
    tr = StackedMLPTrainer(X, y, widths=(40, 100, 2), dtype=F64, init="pytorch")
    fc1 = tr.to_module(0).fc1
    assert fc1.weight.abs().max() <= 1 / math.sqrt(40) and fc1.bias.abs().max() <= 1 / math.sqrt(40)
    assert fc1.weight.std() > 0.8 / math.sqrt(3 * 40)


def test_to_module_is_an_independent_copy():
    X, y = make_data()
    tr = small_trainer(X, y, seeds=(0, 1), activation="sigmoid")
    net = tr.to_module(1)
    assert isinstance(net, MLP) and net.activation == "sigmoid"
    assert net.fc1.weight.dtype == F64
    before = params_of(net)
    tr.run(1)
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    with pytest.raises(DeepscopeError, match="'i' parameter"):
        tr.to_module(2)


def test_float32_default_and_device_follow_x():
    X, y = make_data(dtype=torch.float32)
    tr = StackedMLPTrainer(X, y, widths=(5, 4, 3))
    assert tr._params.dtype == torch.float32 and tr.snapshot().activations[0].device == X.device


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    X, y = make_data()
    cpu = small_trainer(X, y, seeds=(0, 1))
    gpu = small_trainer(X.cuda(), y.cuda(), seeds=(0, 1))
    assert gpu._params.is_cuda
    assert torch.equal(cpu.train_index, gpu.train_index.cpu())
    cpu.run(3)
    gpu.run(3)
    torch.testing.assert_close(gpu._params.cpu(), cpu._params, rtol=1e-9, atol=1e-11)
    torch.testing.assert_close(gpu.snapshot().test_loss.cpu(), cpu.snapshot().test_loss)


# ----------------------------------------------------------------------- bad arguments


def bad_cases():
    X, y = make_data(classes=2)
    ours = "parameter of StackedMLPTrainer must be"
    return [
        ({"lr": -1}, f"The 'lr' {ours} a finite float in (0, inf). Got -1."),
        ({"activation": "gelu"}, f"The 'activation' {ours} one of {{'tanh', 'relu',"),
        ({"batch_size": 0}, f"The 'batch_size' {ours} an int in [1, inf). Got 0."),
        ({"train_fraction": 1.5}, f"{ours} a finite float in (0, 1]. Got 1.5."),
        ({"widths": (4, 3, 2)}, f"The 'widths' {ours} a sequence starting with X.shape[1] = 5."),
        ({"widths": (5, 3, 1)}, f"The 'widths' {ours} a sequence ending with at least 2 classes."),
        ({"y": y + 1}, f"The 'y' {ours} class labels in [0, 1] (widths[-1] = 2 classes). "
                       "Got labels in [1, 2]."),
        ({"y": y.double()}, f"{ours} an integer tensor of shape (60,). Got a float64 tensor"),
        ({"y": y[:10]}, f"The 'y' {ours} an integer tensor of shape (60,)."),
        ({"optimizer": "rmsprop"}, f"The 'optimizer' {ours} one of {{'adam', 'sgd'}}. Got 'rmsp"),
        ({"momentum": 0.9}, f"The 'momentum' {ours} 0.0 with optimizer='adam'"),
        ({"seeds": ()}, f"The 'seeds' {ours} a non-empty sequence of distinct non-negative ints."),
        ({"seeds": (1, 1)}, f"The 'seeds' {ours}"),
        ({"seeds": (-1,)}, f"The 'seeds' {ours}"),
        ({"init": "xavier"}, f"The 'init' {ours} one of"),
        ({"dtype": torch.float16}, f"The 'dtype' {ours} one of"),
        ({"X": X[:, :, None]}, f"The 'X' {ours} a real 2-D tensor (N, d), N >= 1. Got a float64"),
        ({"X": X.clone().fill_(float("nan"))}, f"The 'X' {ours} finite. Got a tensor containing"),
        ({"X": X.tolist()}, f"The 'X' {ours} a tensor. Got list."),
        ({"train_fraction": 0.01}, f"The 'train_fraction' {ours} large enough"),
    ]


@pytest.mark.parametrize("index", range(len(bad_cases())))
def test_bad_arguments_raise_standard_errors(index):
    kwargs, message = bad_cases()[index]
    X, y = make_data(classes=2)
    X, y = kwargs.pop("X", X), kwargs.pop("y", y)
    opts = {"widths": (5, 4, 2)}
    opts.update(kwargs)
    with pytest.raises(DeepscopeError) as info:
        StackedMLPTrainer(X, y, **opts)
    assert message in str(info.value)


def test_bad_run_arguments():
    X, y = make_data()
    tr = small_trainer(X, y)
    tr.run(2)
    message = "'until_epoch' parameter of StackedMLPTrainer.run must be an int in [2, inf)"
    with pytest.raises(DeepscopeError, match=re.escape(message)):
        tr.run(1)
    with pytest.raises(DeepscopeError, match="'on_capture' parameter"):
        tr.run(3, capture_epochs=[3])
    with pytest.raises(DeepscopeError, match="'capture_epochs' parameter"):
        tr.run(3, capture_epochs=[-1], on_capture=print)
