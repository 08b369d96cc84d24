"""Docs that run: every ```python block of README.md and every docstring example.

README blocks run in order in one namespace per ``##`` section (a section's later blocks
may use what its earlier ones defined), from a temporary working directory.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil
import re
from pathlib import Path

import matplotlib
import pytest

import deepscope

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _sections() -> list[tuple[str, list[str]]]:
    out: list[tuple[str, list[str]]] = []
    title, blocks = "preamble", []
    for line_block in re.split(r"(?m)^(## .*)$", README.read_text()):
        if line_block.startswith("## "):
            if blocks:
                out.append((title, blocks))
            title, blocks = line_block[3:].strip(), []
        else:
            blocks += re.findall(r"```python\n(.*?)```", line_block, re.S)
    if blocks:
        out.append((title, blocks))
    return out


SECTIONS = _sections()


@pytest.mark.parametrize("title,blocks", SECTIONS, ids=[t for t, _ in SECTIONS])
def test_readme_section_runs(title, blocks, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "__readme__"}
    try:
        for i, code in enumerate(blocks):
            exec(compile(code, f"README.md [{title}] block {i + 1}", "exec"), namespace)
    finally:
        plt.close("all")


def _modules() -> list[str]:
    names = [deepscope.__name__]
    for info in pkgutil.walk_packages(deepscope.__path__, deepscope.__name__ + "."):
        names.append(info.name)
    return sorted(names)


MODULES = _modules()


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    import torch

    monkeypatch.chdir(tmp_path)   # examples that write (a run store) write here
    torch.manual_seed(0)          # examples may draw from the global RNG (the test's own)
    module = importlib.import_module(name)
    finder = doctest.DocTestFinder(exclude_empty=True)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(module, name, globs={"__name__": name, **vars(module)}):
        if test.examples:
            runner.run(test)
    plt.close("all")
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) of {name} failed"
