"""Study ``pooling-geometry``: the pooling geometry decides which correlations a net models.

Cohen & Shashua (ICLR 2017, "Inductive bias of deep convolutional networks through pooling
geometry", arXiv 1605.06743): a deep ConvAC with square (neighbour) pooling supports high
separation ranks for interleaved partitions of the image and low ranks for the left-right
one; mirror pooling (a column with its mirror image first) reverses that. So square pooling
should win a task of local correlations (is a blob's outline closed?) and mirror pooling a
task of mirror correlations (is the blob left-right symmetric?), for ConvACs and for ReLU
ConvNets of the same geometry.

Binary ``size x size`` images (:func:`deepscope.data.blob_images`, one-hot pixels); four
nets per task: log-space ConvACs (square, mirror) and ReLU ConvNets with 1x1 convolutions
and pair pooling on the same trees; Adam on a fixed training set, accuracy on a held-out
set, for every seed. Beside the accuracies: the separation-rank bounds of every trained
ConvAC under the partitions that match the tasks (:func:`deepscope.lenses.tensors.
rank_bound`, from the structure and the weights: the grid would have ``2^256`` entries).
"""

from __future__ import annotations

from dataclasses import dataclass

from deepscope.errors import check_float, check_int
from deepscope.studies._config import option, validate_choices
from deepscope.studies._registry import Study, StudyContext, register
from deepscope.studies.pooling_geometry import figures as _figures
from deepscope.studies.pooling_geometry import work

__all__ = ["PoolingGeometryConfig"]


@dataclass(frozen=True)
class PoolingGeometryConfig:
    """Configuration of the ``pooling-geometry`` study."""

    tasks: str = option("both", "tasks to run", choices=("both", "closedness", "symmetry"))
    size: int = option(16, "image side (a power of two)")
    n_train: int = option(4000, "training images per task")
    n_test: int = option(2000, "test images per task")
    steps: int = option(600, "Adam steps per net")
    batch_size: int = option(64, "minibatch size")
    channels: int = option(8, "ConvAC channels r at every level")
    templates: int = option(4, "ConvAC representation channels M")
    relu_channels: int = option(16, "ReLU ConvNet channels")
    relu_pool: str = option("avg", "ReLU ConvNet pooling of each pair", choices=("avg", "max"))
    lr_convac: float = option(0.03, "Adam learning rate of the ConvACs")
    lr_relu: float = option(0.003, "Adam learning rate of the ReLU ConvNets")
    log_every: int = option(50, "steps between recorded training losses")
    seeds: int = option(3, "number of seeds (data, weights and batches)")
    first_seed: int = option(0, "first seed")
    threads: int = option(1, "torch CPU threads")

    def __post_init__(self) -> None:
        name = "PoolingGeometryConfig"
        validate_choices(self)
        check_int(self.size, "size", name, low=8, high=64)
        if self.size & (self.size - 1):
            from deepscope.errors import param_error

            raise param_error("size", name, "a power of two in [8, 64]", self.size)
        check_int(self.n_train, "n_train", name, low=2)
        check_int(self.n_test, "n_test", name, low=2)
        check_int(self.steps, "steps", name, low=1)
        check_int(self.batch_size, "batch_size", name, low=1)
        check_int(self.channels, "channels", name, low=1, high=1024)
        check_int(self.templates, "templates", name, low=1, high=1024)
        check_int(self.relu_channels, "relu_channels", name, low=1, high=4096)
        check_float(self.lr_convac, "lr_convac", name, low=0.0, closed="neither")
        check_float(self.lr_relu, "lr_relu", name, low=0.0, closed="neither")
        check_int(self.log_every, "log_every", name, low=1)
        check_int(self.seeds, "seeds", name, low=1, high=1000)
        check_int(self.first_seed, "first_seed", name, low=0)
        check_int(self.threads, "threads", name, low=1, high=256)

    def seed_list(self) -> list[int]:
        """The seeds of the run."""
        return list(range(self.first_seed, self.first_seed + self.seeds))

    def task_list(self) -> list[str]:
        """The tasks to run, in order."""
        return ["closedness", "symmetry"] if self.tasks == "both" else [self.tasks]


def run(config: PoolingGeometryConfig, ctx: StudyContext) -> None:
    """Train the four nets on every task and seed; record accuracies and rank bounds."""
    seeds, tasks = config.seed_list(), config.task_list()
    items = [[t, seed, net] for t in tasks for seed in seeds for net in work.NETS]
    cache: dict = {}   # one task's data set at a time, loaded for its first unfinished net
    for t, seed, net_name in ctx.pending(items, "pooling-geometry: tasks x seeds x nets"):
        if (t, seed) not in cache:
            cache = {(t, seed): work.task_data(config, t, seed)}
        data = cache[(t, seed)]
        work.train_and_record(config, ctx.run, t, seed, net_name, data, ctx.device)
        if seed == seeds[0] and net_name == work.NETS[-1]:
            work.record_examples(ctx.run, t, seed, data)


register(Study(
    name="pooling-geometry",
    summary="Square vs mirror pooling on closedness and symmetry of blobs; separation-rank "
            "bounds of the trained ConvACs (Cohen & Shashua 2017)",
    paper="Cohen & Shashua, ICLR 2017, arXiv 1605.06743",
    config_cls=PoolingGeometryConfig,
    run=run,
    figures=_figures.figures,
    summary_table=_figures.summary_table,
))
