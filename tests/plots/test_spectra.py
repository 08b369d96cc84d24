import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from deepscope.errors import DeepscopeError  # noqa: E402
from deepscope.lenses.spectra import analyze_weights  # noqa: E402
from deepscope.nets import MLP, SmallCNN  # noqa: E402
from deepscope.plots import plot_alpha_over_epochs, plot_esd  # noqa: E402


def test_plot_esd_draws_histogram_fit_and_mp_curve():
    torch.manual_seed(0)
    res = analyze_weights(MLP((200, 150, 10)))
    fig, ax = plot_esd(res, layer="fc1")
    assert isinstance(fig, Figure)
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "ESD" and any(t.startswith("power law α=") for t in labels)
    assert any(t.startswith("MP fit") for t in labels) and "randomised ESD" in labels
    assert "150×10" not in ax.get_title() and "200×150" in ax.get_title()


def test_plot_esd_into_given_axes_and_conv_title():
    res = analyze_weights(SmallCNN(), randomize=False)
    fig = Figure()
    ax = fig.add_subplot()
    out_fig, out_ax = plot_esd(res, ax, layer=1)
    assert out_ax is ax and out_fig is fig
    assert "slices" in ax.get_title()


def test_plot_esd_bad_arguments():
    res = analyze_weights(MLP((20, 10, 5)), randomize=False)
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_esd must be a "
                                             "WeightSpectra"):
        plot_esd(res.to_frame())
    with pytest.raises(DeepscopeError, match="'layer' parameter"):
        plot_esd(res, layer="fc7")
    with pytest.raises(DeepscopeError, match="'bins' parameter of plot_esd"):
        plot_esd(res, bins=1)


def test_plot_alpha_over_epochs_from_tidy_rows():
    rows = pd.DataFrame({"step": [0, 1, 0, 1], "layer": ["fc1", "fc1", "fc2", "fc2"],
                         "metric": "alpha", "value": [6.0, 4.0, 7.0, 5.0]})
    fig, ax = plot_alpha_over_epochs(rows)
    assert [line.get_label() for line in ax.get_lines()] == ["fc1", "fc2"]
    assert list(ax.get_lines()[0].get_ydata()) == [6.0, 4.0]
    with pytest.raises(DeepscopeError, match="'result' parameter of plot_alpha_over_epochs"):
        plot_alpha_over_epochs(rows.drop(columns="step"))
