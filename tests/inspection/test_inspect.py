"""``ds.inspect`` and ``deepscope inspect`` on files the tests create."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from torch import nn

import deepscope as ds
from deepscope.errors import DeepscopeError
from deepscope.inspection import load_data, load_model, load_state

FACTORY = '''
import torch
def make_model():
    return torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
'''


class _Evil:
    def __reduce__(self):
        return (print, ("this must never run",))


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A model factory module, its weights (single and sharded safetensors) and a batch."""
    from safetensors.torch import save_file

    (tmp_path / "usermodel.py").write_text(FACTORY)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("usermodel", None)
    import usermodel

    g = torch.Generator().manual_seed(0)
    model = usermodel.make_model()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g))
    state = model.state_dict()
    save_file(state, str(tmp_path / "model.safetensors"))
    names = list(state)
    save_file({k: state[k] for k in names[:2]}, str(tmp_path / "a.safetensors"))
    save_file({k: state[k] for k in names[2:]}, str(tmp_path / "b.safetensors"))
    index = {"weight_map": {k: ("a" if i < 2 else "b") + ".safetensors"
                            for i, k in enumerate(names)}}
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps(index))
    x, y = torch.randn(32, 4, generator=g), torch.randint(0, 3, (32,), generator=g)
    torch.save((x, y), tmp_path / "batch.pt")
    np.savez(tmp_path / "batch.npz", x=x.numpy(), y=y.numpy())
    torch.save({"w": _Evil()}, tmp_path / "evil.pt")
    return tmp_path, model


def test_safe_loading_of_weights_and_data(files):
    path, model = files
    one = load_state(path / "model.safetensors")
    sharded = load_state(path / "model.safetensors.index.json")
    assert all(torch.equal(one[k], sharded[k]) for k in one) and set(one) == set(sharded)
    loaded = load_model("usermodel:make_model", path / "model.safetensors.index.json")
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(),
                                                 model.state_dict().values()))
    x, y = load_data(path / "batch.npz")
    x2, y2 = load_data(path / "batch.pt")
    assert torch.equal(x, x2) and torch.equal(y, y2)
    with pytest.raises(DeepscopeError, match="weights_only=True"):
        load_state(path / "evil.pt")
    with pytest.raises(DeepscopeError, match="does not exist"):
        load_data(path / "nothing.pt")


def test_inspect_runs_every_lens_isolated_and_stores_a_run(files):
    path, model = files
    x, y = load_data(path / "batch.pt")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    run = ds.inspect(model, data=(x, y), loss_fn=ds.losses.cross_entropy,
                     root=path / "runs", against=load_model("usermodel:make_model"))
    m = run.manifest
    assert [r["status"] for r in m["lenses"]] == ["done"] * 12, m["lenses"]
    assert m["config"]["n_params"] == 131 and len(m["weights_sha256"]) == 64
    assert m["data_sha256"] and m["comparison"]
    assert (run.path / "report.html").exists()
    frame = run.measurements()
    assert {"spectra", "curvature", "landscape", "gradients", "information",
            "regions"} <= set(frame.lens)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    # data-free only; a loss that fails isolates its lens; time limit skips
    run = ds.inspect(model, root=path / "runs")
    assert [r["status"] for r in run.manifest["lenses"]] == ["done"] + ["skipped"] * 5

    def broken(out, y):
        raise RuntimeError("boom")

    run = ds.inspect(model, data=(x, y), loss_fn=broken, root=path / "runs",
                     lenses=["spectra", "curvature"])
    lenses = run.manifest["lenses"]
    assert lenses[0]["status"] == "done" and lenses[1]["status"] == "failed"
    assert "boom" in lenses[1]["detail"]
    assert "boom" in (run.path / "report.html").read_text()


def test_cli_inspect_module_factory(files):
    from typer.testing import CliRunner

    from deepscope.cli import app

    path, _ = files
    res = CliRunner().invoke(app, ["inspect", "usermodel:make_model", "--weights",
                                   str(path / "model.safetensors"), "--data",
                                   str(path / "batch.npz"), "--loss", "cross_entropy",
                                   "--lenses", "spectra,gradients", "--out",
                                   str(path / "runs")])
    assert res.exit_code == 0, res.output
    assert "done" in res.output and "report:" in res.output


def test_inspect_a_local_hugging_face_directory(tmp_path):
    transformers = pytest.importorskip("transformers")
    cfg = transformers.GPT2Config(n_layer=1, n_embd=16, n_head=2, vocab_size=32,
                                  n_positions=16, bos_token_id=0, eos_token_id=0)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path / "ckpt")
    ids = torch.randint(0, 32, (4, 8), generator=torch.Generator().manual_seed(0))
    torch.save({"input_ids": ids}, tmp_path / "batch.pt")
    model = load_model(f"hf:{tmp_path / 'ckpt'}")
    batch = load_data(tmp_path / "batch.pt")
    assert isinstance(batch[0], dict) and torch.equal(batch[1], ids)
    run = ds.inspect(model, data=batch, loss_fn=ds.losses.causal_lm, root=tmp_path / "runs",
                     lenses=["spectra", "curvature"])
    assert [r["status"] for r in run.manifest["lenses"]] == ["done", "done"]


def test_bad_arguments_name_the_parameter():
    net = nn.Linear(2, 2)
    with pytest.raises(DeepscopeError, match="'time_limit'"):
        ds.inspect(net, time_limit=-1)
    with pytest.raises(DeepscopeError, match="'lenses'"):
        ds.inspect(net, lenses="spectra")


def test_registered_lenses_join_by_name_and_unservable_needs_are_recorded(tmp_path):
    net = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    run = ds.inspect(net, data=(x, y), loss_fn=ds.losses.cross_entropy, root=tmp_path,
                     lenses=["spectra.analyze_weights", "information.entropy"])
    lenses = {r["lens"]: r for r in run.manifest["lenses"]}
    assert lenses["spectra.analyze_weights"]["status"] == "done"
    assert lenses["information.entropy"]["status"] == "skipped"
    assert "activations" in lenses["information.entropy"]["detail"]
    assert set(run.measurements().lens) == {"spectra.analyze_weights"}


def test_low_memory_curvature_path_matches_the_known_top_eigenvalue(tmp_path, monkeypatch):
    from deepscope.inspection import checkups as checkup

    monkeypatch.setattr(checkup, "LOW_MEMORY_PARAMS", 0)
    g = torch.Generator().manual_seed(0)
    net = nn.Linear(3, 1)
    x = torch.randn(64, 3, generator=g) * torch.tensor([3.0, 1.0, 0.5])
    y = torch.randn(64, 1, generator=g)
    run = ds.inspect(net, data=(x, y), loss_fn=ds.losses.mse, root=tmp_path,
                     lenses=["curvature"])
    assert run.manifest["lenses"][0]["status"] == "done"
    frame = run.measurements()
    top = float(frame[frame.metric == "top_eigenvalue"].value.iloc[0])
    a = torch.cat([x, torch.ones(64, 1)], 1).double()
    exact = float(torch.linalg.eigvalsh(2 * a.T @ a / 64)[-1])   # H of the mean squared error
    assert top == pytest.approx(exact, rel=1e-3)
    assert "power iteration" in " ".join(run.manifest["findings"])


def test_registered_lenses_join_by_name_including_the_representations_lens(files):
    path, model = files
    x, y = load_data(path / "batch.pt")
    run = ds.inspect(model, data=(x, y), loss_fn=ds.losses.cross_entropy,
                     root=path / "runs", lenses=["representations.cka_matrix"])
    assert [r["status"] for r in run.manifest["lenses"]] == ["done"], run.manifest["lenses"]
    frame = run.measurements()
    cka = frame[frame.metric == "cka"]
    assert len(cka) > 0 and cka.value.max() <= 1.0 + 1e-9


def test_regions_checkup_over_budget_reports_a_bound_and_an_estimate():
    from deepscope.inspection.checkups import CHECKUPS, _Context, budgets

    g = torch.Generator().manual_seed(0)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(4, 512), torch.nn.ReLU(),
                                  torch.nn.Linear(512, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 2))
    x = 10 * torch.randn(8, 4, generator=g)
    budget = dict(budgets(1000), regions=5)
    out = CHECKUPS["regions"].run(_Context(net, (x, torch.zeros(8).long()), None, 0, budget))
    assert out.metrics["complete"] == 0.0 and out.metrics["regions_estimate"] > 5
    assert "at least" in out.findings[0] and "segment_cost estimates" in out.findings[0]
    assert all(metric != "pieces" for _, metric, _ in out.rows)   # no -1 stored as a count
    full = CHECKUPS["regions"].run(_Context(net, (x, torch.zeros(8).long()), None, 0,
                                            budgets(1000)))
    assert full.metrics["complete"] == 1.0 and "at least" not in full.findings[0]
