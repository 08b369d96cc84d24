"""Training and measuring of the ``layer-representations`` study (private)."""

from __future__ import annotations

import time
from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from deepscope.studies._registry import StudyContext

NETS = ("mlp", "cnn")
CONDITIONS = ("true", "random", "untrained")
LAYERS = {"mlp": ("input", "act1", "act2", "act3", "fc4"),
          "cnn": ("input", "pool1", "pool2", "relu3", "fc2")}
SEP = "|"


def build(net: str, cfg, seed: int) -> nn.Module:
    """The network of a seed, with an ``input`` identity layer first (inputs 1 x 8 x 8)."""
    from deepscope.nets import MLP, SmallCNN
    from deepscope.seeding import seeded_init

    def make() -> nn.Module:
        if net == "mlp":
            body = MLP((64, *cfg.mlp_hidden, 10), "relu")
            mods = [("input", nn.Identity()), ("flatten", nn.Flatten()),
                    *body.named_children()]
        else:
            mods = [("input", nn.Identity()), *SmallCNN().named_children()]
        return nn.Sequential(OrderedDict(mods))

    return seeded_init(make, seed)


def layer_names(net: str, cfg) -> tuple[str, ...]:
    """The measured layers of a network (the MLP's depend on ``mlp_hidden``)."""
    if net == "cnn":
        return LAYERS["cnn"]
    n = len(cfg.mlp_hidden)
    return ("input", *(f"act{i}" for i in range(1, n + 1)), f"fc{n + 1}")


def data(device, n_measure: int = 1797):
    """The train/test split (true and random labels) and the images the layers are measured
    on: the first ``n_measure`` of a fixed permutation of all 1,797 digits."""
    from deepscope.data.digits import digits

    true = digits(seed=0, image=True, device=device)
    rand = digits(seed=0, image=True, random_labels=1.0, device=device)
    x_all = torch.cat([true.x_train, true.x_test])
    y_all = torch.cat([true.y_train, true.y_test])
    keep = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0))[:n_measure]
    keep = keep.to(x_all.device)
    return true, rand, x_all[keep], y_all[keep]


def train(model: nn.Module, split, cfg, epochs: int, seed: int) -> tuple[float, float]:
    """Adam on cross-entropy with :func:`deepscope.train.fit`; returns (train, test) accuracy."""
    from deepscope.train import fit

    fit(model, nn.functional.cross_entropy, (split.x_train, split.y_train), optimizer="adam",
        lr=cfg.lr, epochs=epochs, batch_size=cfg.batch_size, seed=seed)
    return accuracy(model, split.x_train, split.y_train), accuracy(model, split.x_test,
                                                                   split.y_test)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Accuracy of the argmax of the logits (eval mode, restored)."""
    was = model.training
    model.eval()
    try:
        with torch.no_grad():
            return float((model(x).argmax(dim=1) == y).double().mean())
    finally:
        model.train(was)


def activations(model: nn.Module, x: torch.Tensor, layers) -> dict[str, torch.Tensor]:
    """Flattened float64 outputs of ``layers`` on ``x``."""
    from deepscope import capture

    was = model.training
    model.eval()
    try:
        with capture(model, layers) as acts, torch.no_grad():
            model(x)
        return {k: acts[k].reshape(x.shape[0], -1).double() for k in layers}
    finally:
        model.train(was)


def key(net: str, cond: str, layer: str) -> str:
    """The ``layer`` column of a measurement: ``net|condition|layer``."""
    return SEP.join((net, cond, layer))


def measure(rec, net: str, cond: str, seed: int, model: nn.Module, x_all, y_all, cfg,
            step: int) -> None:
    """Every per-model measurement of one trained (or untrained) network."""
    from deepscope.lenses import information
    from deepscope.lenses import representations as rep

    layers = layer_names(net, cfg)
    acts = activations(model, x_all, layers)

    def put(lens, layer, metric, value):
        rec.record(step=step, lens=lens, layer=key(net, cond, layer), metric=metric,
                   value=float(value), seed=seed)

    m = rep.cka_matrix(model, None, x_all, layers_a=list(layers))
    for i, a in enumerate(layers):
        for j, b in enumerate(layers):
            put("cka", a, f"cka@{b}", m.values[i, j])
    probe = rep.linear_probe(acts, y_all, seed=seed)
    for i, a in enumerate(layers):
        put("probe", a, "accuracy", probe.accuracy[i])
        put("probe", a, "control_accuracy", probe.control_accuracy[i])
        put("probe", a, "selectivity", probe.selectivity[i])
    for a in layers:
        r = rep.intrinsic_dimension(acts[a], n_bootstrap=cfg.n_bootstrap, seed=seed)
        put("intrinsic_dimension", a, "id", r.dimension)
        put("intrinsic_dimension", a, "id_low", r.interval[0])
        put("intrinsic_dimension", a, "id_high", r.interval[1])
    for name, tf in (("shift", rep.pixel_shift(1)), ("noise", rep.gaussian_noise(cfg.noise_std))):
        inv = rep.invariance(model, x_all, transform=tf, layers=list(layers[1:]), seed=seed)
        for a, s in zip(inv.layers, inv.sensitivity):
            put("invariance", a, f"sensitivity_{name}", s)
    # each layer scaled to unit mean variance per coordinate, so one noise level fits all
    scaled = {a: acts[a] / acts[a].var(dim=0).mean().clamp_min(1e-30).sqrt()
              for a in layers[1:]}
    plane = information.information_plane(scaled, y_all, method="kde",
                                          noise_variance=cfg.kde_noise)
    frame = plane.to_frame()
    for _, row in frame.iterrows():
        put("information", row["layer"], "i_xt", row["i_xt"])
        put("information", row["layer"], "i_ty", row["i_ty"])


def run(config, ctx: StudyContext) -> None:
    """Train and measure every network, condition and seed; then the cross-seed CKA."""
    from deepscope.lenses import representations as rep

    rec = ctx.run
    true, rand, x_all, y_all = data(ctx.device, config.n_measure)
    nets, conds, seeds = config.net_list(), config.condition_list(), config.seed_list()
    done = list(ctx.resume.get("done", [])) if ctx.resume else []
    timings = dict(ctx.resume.get("timings", {})) if ctx.resume else {}
    groups = [(n, c) for n in nets for c in conds]
    with ctx.task(f"layer-representations: {len(groups)} groups x {len(seeds)} seed(s)",
                  len(groups)) as task:
        task.update(completed=len(done))
        for net, cond in groups:
            if [net, cond] in done:
                continue
            t0 = time.perf_counter()
            models = {}
            for seed in seeds:
                model = build(net, config, seed).to(ctx.device)
                if cond == "untrained":
                    epochs = 0
                    acc = (accuracy(model, true.x_train, true.y_train),
                           accuracy(model, true.x_test, true.y_test))
                else:
                    epochs = config.epochs if cond == "true" else config.random_epochs
                    split = true if cond == "true" else rand
                    acc = train(model, split, config, epochs, seed)
                    acc = (acc[0], accuracy(model, true.x_test, true.y_test))
                rec.record(step=epochs, lens="training", layer=key(net, cond, ""),
                           metric=["train_accuracy", "test_accuracy"], value=np.array(acc),
                           seed=seed)
                measure(rec, net, cond, seed, model, x_all, y_all, config, epochs)
                models[seed] = model
            layers = list(layer_names(net, config))
            ref = seeds[0]
            for seed in seeds[1:]:
                m = rep.cka_matrix(models[ref], models[seed], x_all, layers_a=layers,
                                   layers_b=layers)
                for i, a in enumerate(layers):
                    rec.record(step=0, lens="cka_seeds", layer=key(net, cond, a),
                               metric=[f"cka@{b}" for b in layers], value=m.values[i],
                               seed=seed)
            timings[f"{net}/{cond}"] = round(time.perf_counter() - t0, 3)
            done.append([net, cond])
            ctx.checkpoint({"done": done, "timings": timings})
            task.advance(1)
    rec.update_manifest(timings_s=timings)
