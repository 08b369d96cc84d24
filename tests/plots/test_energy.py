"""Plots of the energy family."""

import pytest

import deepscope as ds
from deepscope.errors import DeepscopeError


def test_plot_ising_observables_and_ais_weights():
    s = ds.data.ising(4, [1.5, 2.5, 3.5], 50, seed=0)
    for q in ("abs_m", "energy", "binder", "tau_energy"):
        fig, ax = ds.plots.plot_ising_observables(s, q, exact=ds.data.ising_exact(4, [1.5, 2.5]))
        assert ax.get_ylabel()
    rbm = ds.nets.RBM(6, 3, init_std=0.5)
    z = ds.lenses.energy.partition_function(rbm, "ais", n_betas=100, reverse=True)
    fig, ax = ds.plots.plot_ais_weights(z, exact=ds.lenses.energy.partition_function(rbm).log_z)
    assert len(ax.lines) == 3
    with pytest.raises(DeepscopeError, match="'quantity'"):
        ds.plots.plot_ising_observables(s, "entropy")
    with pytest.raises(DeepscopeError, match="'result'"):
        ds.plots.plot_ais_weights(ds.lenses.energy.partition_function(rbm))
    with pytest.raises(DeepscopeError, match="'ax'"):
        ds.plots.plot_ais_weights(z, ax="no")
