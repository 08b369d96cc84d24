import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deepscope.errors import DeepscopeError  # noqa: E402
from deepscope.lenses.tensors import grid_tensor, separation_rank  # noqa: E402
from deepscope.nets import convac  # noqa: E402
from deepscope.plots import plot_singular_values  # noqa: E402


def test_plot_singular_values_one_and_many():
    grid = grid_tensor(convac(8, 2, 2), torch.eye(2))
    res = {p: separation_rank(grid, p) for p in ("odd-even", "left-right")}
    fig, ax = plot_singular_values(res)
    assert isinstance(fig, Figure) and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["odd-even (rank 16)", "left-right (rank 2)"]
    fig2 = Figure()
    ax2 = fig2.add_subplot()
    assert plot_singular_values(res["odd-even"], ax=ax2) == (fig2, ax2)
    with pytest.raises(DeepscopeError, match="'result'"):
        plot_singular_values([1, 2])
    with pytest.raises(DeepscopeError, match="'ax'"):
        plot_singular_values(res["odd-even"], ax="axes")
