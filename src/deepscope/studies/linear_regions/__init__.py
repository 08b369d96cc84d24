"""Study ``linear-regions``: how many linear regions a ReLU net has, near data and far, at
initialisation and over training.

Hanin & Rolnick (2019, "Complexity of linear regions in deep networks", arXiv 1901.09021;
"Deep ReLU networks have surprisingly few activation patterns", arXiv 1906.00904) show that
at initialisation the number of regions a line crosses grows about linearly in the number of
neurons ``N`` (regions per unit length / ``N`` is roughly constant, whatever the depth), that
a 2-D slice holds about ``N^2`` regions per unit area, and that training changes these
densities only moderately. This study measures, exactly (``deepscope.lenses.regions``):

* along segments between training points: regions per unit length, and per neuron;
* in planes through three training points: regions per unit area, and per neuron squared;
* the same along segments shifted far away from the data (``far_shift`` data radii);
* at log-spaced training steps, for an MLP on a 2-D task (moons or spirals), an MLP and
  the small CNN on the bundled digits;
* a width x depth sweep at initialisation;
* the full 2-D partition with the decision boundary over training (small multiples).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from deepscope.errors import check_float, check_int, param_error
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register

__all__ = ["LinearRegionsConfig"]

MODELS = ("toy-mlp", "digits-mlp", "digits-cnn")


def _ints(value, name: str, cls: str, low: int, high: int) -> None:
    if not value or any(isinstance(v, bool) or not isinstance(v, int) or not low <= v <= high
                        for v in value):
        raise param_error(name, cls, f"a non-empty list of ints in [{low}, {high}]", value)


@dataclass(frozen=True)
class LinearRegionsConfig:
    """Configuration of the ``linear-regions`` study."""

    task: str = option("moons", "2-D task", choices=("moons", "spirals"))
    n_points: int = option(400, "points of the 2-D task (3/4 train, 1/4 test)")
    noise: float = option(0.1, "noise of the 2-D task")
    toy_widths: tuple[int, ...] = option((2, 32, 32, 32, 2), "MLP widths on the 2-D task")
    digits_widths: tuple[int, ...] = option((64, 32, 32, 10), "MLP widths on digits")
    models: tuple[str, ...] = option(MODELS, "which nets to train")
    steps: int = option(2000, "Adam steps (minibatches)")
    batch_size: int = option(64, "minibatch size")
    lr: float = option(3e-3, "Adam learning rate")
    captures: int = option(8, "log-spaced measurement steps (0 and the last included)")
    segments: int = option(100, "segments between training points per measurement")
    planes: int = option(3, "planes through three training points per measurement")
    cnn_planes: bool = option(False, "also slice the CNN with planes (slow: ~1e5 regions)")
    far_shift: float = option(3.0, "far segments: shifted by this many data radii")
    sweep_widths: tuple[int, ...] = option((16, 32, 64), "init sweep: hidden widths")
    sweep_depths: tuple[int, ...] = option((1, 2, 3, 4), "init sweep: hidden layers")
    seeds: int = option(1, "number of seeds")
    first_seed: int = option(0, "first seed; seeds are first_seed .. first_seed+seeds-1")

    def __post_init__(self) -> None:
        name = "LinearRegionsConfig"
        validate_choices(self)
        check_int(self.n_points, "n_points", name, low=8, high=10**6)
        check_float(self.noise, "noise", name, low=0.0)
        for field in ("toy_widths", "digits_widths"):
            _ints(getattr(self, field), field, name, 1, 4096)
        if len(self.toy_widths) < 3 or self.toy_widths[0] != 2 or self.toy_widths[-1] != 2:
            raise param_error("toy_widths", name, "widths 2-...-2 with a hidden layer",
                              self.toy_widths)
        if (len(self.digits_widths) < 3 or self.digits_widths[0] != 64
                or self.digits_widths[-1] != 10):
            raise param_error("digits_widths", name, "widths 64-...-10 with a hidden layer",
                              self.digits_widths)
        if not self.models or any(m not in MODELS for m in self.models):
            raise param_error("models", name, "a list drawn from {" + ", ".join(
                repr(m) for m in MODELS) + "}", self.models)
        check_int(self.steps, "steps", name, low=0, high=10**7)
        check_int(self.batch_size, "batch_size", name, low=1)
        check_float(self.lr, "lr", name, low=0.0, closed="neither")
        check_int(self.captures, "captures", name, low=1, high=1000)
        check_int(self.segments, "segments", name, low=1, high=10**6)
        check_int(self.planes, "planes", name, low=0, high=1000)
        check_float(self.far_shift, "far_shift", name, low=0.0)
        _ints(self.sweep_widths, "sweep_widths", name, 1, 4096)
        _ints(self.sweep_depths, "sweep_depths", name, 1, 64)
        check_int(self.seeds, "seeds", name, low=1, high=10000)
        check_int(self.first_seed, "first_seed", name, low=0)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))


# ------------------------------------------------------------------------------ data


def _toy(config: LinearRegionsConfig, seed: int, device) -> tuple:
    from deepscope.data import moons, spirals

    make = moons if config.task == "moons" else spirals
    x, y = make(config.n_points, config.noise, seed, device=device)
    cut = (3 * config.n_points) // 4
    return x[:cut], y[:cut], x[cut:], y[cut:]


def _digits(seed: int, image: bool, device) -> tuple:
    from deepscope.data import digits

    d = digits(seed=seed, image=image, device=device)
    return d.x_train, d.y_train, d.x_test, d.y_test


def _make(model: str, config: LinearRegionsConfig):
    from deepscope.nets import MLP, SmallCNN

    if model == "toy-mlp":
        return lambda: MLP(config.toy_widths, activation="relu")
    if model == "digits-mlp":
        return lambda: MLP(config.digits_widths, activation="relu")
    return SmallCNN


# -------------------------------------------------------------------------- measuring


def _neurons(net, x) -> int:
    from deepscope.lenses import regions

    return int(regions.activation_patterns(net, x[:1]).codes.shape[1])


def _pairs(n: int, k: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    i = torch.randint(0, n, (k,), generator=gen)
    j = (i + 1 + torch.randint(0, n - 1, (k,), generator=gen)) % n
    return i, j


def _segment_density(net, a, b) -> float:
    from deepscope.lenses import regions

    res = regions.regions_on_segments(net, a, b)
    return float((res.counts - 1).sum() / max(res.lengths.sum(), 1e-300))


def _far_shift(x: torch.Tensor, k: int, scale: float, gen: torch.Generator) -> torch.Tensor:
    flat = x.reshape(x.shape[0], -1)
    radius = float((flat - flat.mean(0)).norm(dim=1).mean())
    d = torch.randn(k, flat.shape[1], generator=gen, dtype=torch.float64)
    d = d / d.norm(dim=1, keepdim=True) * (scale * radius)
    return d.to(dtype=x.dtype, device=x.device).reshape(k, *x.shape[1:])


def measure(net, x: torch.Tensor, config: LinearRegionsConfig, seed: int, *,
            planes: bool = True) -> dict[str, float]:
    """Region densities of ``net`` around the data ``x`` (segments, far segments, planes).

    Returns:
        ``segment_density`` (regions crossed per unit length, counting transitions),
        its value per neuron, the same for ``far_segment_*``, and when ``planes``:
        ``plane_density`` (regions per unit area) and ``plane_density_per_neuron2``.
    """
    from deepscope.lenses import regions

    gen = torch.Generator().manual_seed(seed)
    n = _neurons(net, x)
    i, j = _pairs(x.shape[0], config.segments, gen)
    a, b = x[i.to(x.device)], x[j.to(x.device)]
    out = {"neurons": float(n)}
    out["segment_density"] = _segment_density(net, a, b)
    shift = _far_shift(x, config.segments, config.far_shift, gen)
    out["far_segment_density"] = _segment_density(net, a + shift, b + shift)
    out["segment_density_per_neuron"] = out["segment_density"] / n
    out["far_segment_density_per_neuron"] = out["far_segment_density"] / n
    if planes and config.planes:
        counts, areas = 0, 0.0
        for _ in range(config.planes):
            p = torch.randperm(x.shape[0], generator=gen)[:3].to(x.device)
            origin, dirs, bounds = regions.plane_through(x[p[0]], x[p[1]], x[p[2]])
            res = regions.regions_in_plane(net, origin, dirs, bounds)
            counts += res.count
            areas += (bounds[1] - bounds[0]) * (bounds[3] - bounds[2])
        out["plane_density"] = counts / areas
        out["plane_density_per_neuron2"] = out["plane_density"] / n**2
    return out


def _accuracy(net, x, y) -> float:
    with torch.no_grad():
        return float((net(x).argmax(1) == y).float().mean())


def _train_model(model: str, config: LinearRegionsConfig, seed: int, ctx: StudyContext,
                 task) -> None:
    from deepscope.lenses import regions
    from deepscope.seeding import seeded_init
    from deepscope.studies.linear_regions.training import log_steps, train

    dev = ctx.device
    data = (_toy(config, seed, dev) if model == "toy-mlp"
            else _digits(seed, model == "digits-cnn", dev))
    x, y, xt, yt = data
    net = seeded_init(_make(model, config), seed, dev)
    planes = model != "digits-cnn" or config.cnn_planes
    box = None
    if model == "toy-mlp":
        lo, hi = x.min(0).values.cpu(), x.max(0).values.cpu()
        pad = 0.1 * (hi - lo)
        box = (float(lo[0] - pad[0]), float(hi[0] + pad[0]),
               float(lo[1] - pad[1]), float(hi[1] + pad[1]))
    partitions = {}

    def on_step(step: int) -> None:
        net.eval()
        try:
            values = measure(net, x, config, seed, planes=planes)
            values["train_acc"] = _accuracy(net, x, y)
            values["test_acc"] = _accuracy(net, xt, yt)
            if box is not None:
                res = regions.regions_in_plane(net, torch.zeros(2, device=dev),
                                               torch.eye(2, device=dev), box)
                values["box_regions"] = float(res.count)
                partitions[step] = res
        finally:
            net.train()
        for metric, value in values.items():
            ctx.run.record(step=step, lens="regions", layer=model, metric=metric,
                           value=value, seed=seed)
        task.advance()

    train(net, x, y, loss="ce", steps=config.steps, lr=config.lr,
          batch_size=config.batch_size, seed=seed, at=log_steps(config.steps, config.captures),
          on_step=on_step)
    if partitions:
        from deepscope.studies.linear_regions.partitions import save_partitions

        ctx.run.write_artifact(
            f"partitions/{model}-seed{seed}.npz",
            lambda fh: save_partitions(fh, config.task, x.cpu().numpy(), y.cpu().numpy(),
                                       partitions))


def _sweep(config: LinearRegionsConfig, seed: int, ctx: StudyContext, task) -> None:
    from deepscope.nets import MLP
    from deepscope.seeding import seeded_init

    dev = ctx.device
    inputs = {"toy": _toy(config, seed, dev)[0], "digits": _digits(seed, False, dev)[0]}
    for name, x in inputs.items():
        d_in, d_out = x.shape[1], 2 if name == "toy" else 10
        for width in config.sweep_widths:
            for depth in config.sweep_depths:
                widths = (d_in, *([width] * depth), d_out)
                net = seeded_init(lambda w=widths: MLP(w, activation="relu"), seed, dev)
                values = measure(net, x, config, seed, planes=name == "toy")
                values.update(width=float(width), depth=float(depth))
                for metric, value in values.items():
                    ctx.run.record(step=0, lens="init_sweep", layer=f"{name} {width}x{depth}",
                                   metric=metric, value=value, seed=seed)
                task.advance()


def run(config: LinearRegionsConfig, ctx: StudyContext) -> None:
    """Init sweep, then train each model and measure it at log-spaced steps."""
    from deepscope.studies.linear_regions.training import log_steps

    jobs = [("sweep", seed) for seed in config.seed_list()]
    jobs += [(model, seed) for seed in config.seed_list() for model in config.models]
    done = list(ctx.resume["done"]) if ctx.resume else []
    per_model = len(log_steps(config.steps, config.captures))
    per_sweep = 2 * len(config.sweep_widths) * len(config.sweep_depths)
    total = sum(per_sweep if kind == "sweep" else per_model for kind, _ in jobs)
    t0 = time.perf_counter()
    with ctx.task("linear-regions", total) as task:
        for k, (kind, seed) in enumerate(jobs):
            if k < len(done):
                task.advance(per_sweep if kind == "sweep" else per_model)
                continue
            if kind == "sweep":
                _sweep(config, seed, ctx, task)
            else:
                _train_model(kind, config, seed, ctx, task)
            done.append(k)
            ctx.checkpoint({"done": list(done)})
    ctx.run.update_manifest(timings={"study_s": round(time.perf_counter() - t0, 3)})


def _figures(run):
    from deepscope.studies.linear_regions.figures import linear_regions_figures

    return linear_regions_figures(run)


def _summary(run):
    from deepscope.studies.linear_regions.figures import linear_regions_summary

    return linear_regions_summary(run)


register(Study(
    name="linear-regions",
    summary="Exact linear-region densities of ReLU nets near data, far away, at init "
            "(width x depth) and over training (Hanin & Rolnick 2019)",
    paper="B. Hanin & D. Rolnick 2019, arXiv 1901.09021 and arXiv 1906.00904",
    config_cls=LinearRegionsConfig,
    run=run,
    figures=_figures,
    summary_table=_summary,
))
