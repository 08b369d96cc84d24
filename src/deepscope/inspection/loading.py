"""Safe loading of a user's model, weights and data for ``deepscope inspect``.

Nothing read from disk is unpickled: weights come from ``.safetensors`` files (one file or
a sharded checkpoint with its ``*.index.json``), or from ``.pt``/``.pth``/``.bin`` files
read with ``torch.load(weights_only=True)``, which refuses any pickled object other than
tensors and plain containers. A Hugging Face directory is read with
``local_files_only=True`` and never ``trust_remote_code``: nothing reaches the network and
no code from the directory runs. Data files: ``.pt`` (weights only), ``.npz`` (no pickles)
or ``.safetensors``.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from deepscope.errors import DeepscopeTypeError, DeepscopeValueError

__all__ = ["load_data", "load_model", "load_state", "sha256_of_files", "sha256_of_state"]

_PICKLE = (".pt", ".pth", ".bin", ".ckpt")


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError):
        raise DeepscopeValueError(
            f"{path} needs unpickling beyond tensors and containers, and deepscope loads "
            f".pt files only with torch.load(weights_only=True), which refuses to run code "
            f"from a file. Save a state_dict (torch.save(model.state_dict(), ...)) or a "
            f".safetensors file.") from None


def load_state(path: str | Path) -> dict[str, torch.Tensor]:
    """A state dict from ``.safetensors``, a sharded ``*.safetensors.index.json``, or ``.pt``.

    Raises:
        DeepscopeValueError: a missing file, an unknown extension, or a ``.pt`` file that
            holds pickled objects (refused, with why).
    """
    path = Path(path)
    if not path.exists():
        raise DeepscopeValueError(f"The weights file {path} does not exist.")
    name = path.name
    if name.endswith(".index.json"):
        index = json.loads(path.read_text())
        shards = sorted(set(index.get("weight_map", {}).values()))
        if not shards:
            raise DeepscopeValueError(f"{path} has no 'weight_map'.")
        state: dict[str, torch.Tensor] = {}
        for shard in shards:
            state.update(load_state(path.parent / shard))
        return state
    if name.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(str(path), device="cpu")
    if name.endswith(_PICKLE):
        obj = _torch_load(path)
        if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"],
                                                                         Mapping):
            obj = obj["state_dict"]
        if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor)
                                                   for v in obj.values()):
            raise DeepscopeValueError(f"{path} does not hold a state dict (name -> tensor).")
        return dict(obj)
    raise DeepscopeValueError(f"Unknown weights file {path}: use .safetensors, a sharded "
                              f"*.safetensors.index.json, or {', '.join(_PICKLE)}.")


def _hf_dir(path: Path) -> nn.Module:
    try:
        import transformers
    except ImportError:  # pragma: no cover - optional dependency
        raise DeepscopeValueError("Loading a Hugging Face directory needs transformers: pip "
                                  "install 'deepscope[hf]'.") from None
    if not (path / "config.json").exists():
        raise DeepscopeValueError(f"{path} has no config.json (not a Hugging Face model "
                                  "directory).")
    config = transformers.AutoConfig.from_pretrained(path, local_files_only=True,
                                                     trust_remote_code=False)
    arch = (getattr(config, "architectures", None) or [None])[0]
    cls = getattr(transformers, arch, None) if arch else None
    if cls is None:
        cls = transformers.AutoModel
    return cls.from_pretrained(path, local_files_only=True, trust_remote_code=False).eval()


def load_model(spec: str, weights: str | Path | None = None) -> nn.Module:
    """The model named by ``spec``, with ``weights`` loaded (strictly) if given.

    ``spec`` is ``"package.module:factory"`` (``factory()`` returns the module; the module
    is imported as any Python import would), ``"hf:DIR"`` or a directory holding a
    ``config.json`` (a local Hugging Face checkpoint).

    Raises:
        DeepscopeValueError: a spec that names nothing loadable, weights that do not fit.
    """
    if spec.startswith("hf:") or Path(spec).is_dir():
        model = _hf_dir(Path(spec[3:] if spec.startswith("hf:") else spec))
    else:
        if ":" not in spec:
            raise DeepscopeValueError(f"The model {spec!r} must be 'package.module:factory', "
                                      "'hf:DIR' or a Hugging Face directory.")
        mod_name, attr = spec.split(":", 1)
        try:
            factory = getattr(importlib.import_module(mod_name), attr)
        except (ImportError, AttributeError) as err:
            raise DeepscopeValueError(f"Cannot load {spec!r}: {err}.") from None
        model = factory() if callable(factory) and not isinstance(factory, nn.Module) \
            else factory
        if not isinstance(model, nn.Module):
            raise DeepscopeTypeError(f"{spec!r} gave a {type(model).__name__}, not a "
                                     "torch.nn.Module.")
    if weights is not None:
        state = load_state(weights)
        result = model.load_state_dict(state, strict=False)
        missing = [k for k in result.missing_keys]
        if missing or result.unexpected_keys:
            raise DeepscopeValueError(
                f"The weights in {weights} do not fit {type(model).__name__}: missing "
                f"{missing[:5]}, unexpected {list(result.unexpected_keys)[:5]}.")
    return model.eval()


def _pair_from_mapping(obj: Mapping) -> tuple[Any, Any]:
    for xk, yk in (("inputs", "targets"), ("x", "y")):
        if xk in obj:
            return obj[xk], obj.get(yk)
    inputs = {k: v for k, v in obj.items() if k not in ("targets", "y")}
    targets = obj.get("targets", obj.get("y", obj.get("labels", obj.get("input_ids"))))
    return inputs, targets


def load_data(path: str | Path) -> tuple[Any, Any]:
    """``(inputs, targets)`` from ``.pt`` (weights only), ``.npz`` or ``.safetensors``.

    The file holds a pair ``(inputs, targets)``, or a dict with ``inputs``/``targets``
    (or ``x``/``y``), or a dict of named model inputs (``input_ids``, ``pixel_values``,
    ...) whose targets are its ``targets``/``y``/``labels`` entry, else its ``input_ids``
    (for :func:`deepscope.losses.causal_lm`).

    Raises:
        DeepscopeValueError: a missing file, an unknown extension, pickled contents.
    """
    path = Path(path)
    if not path.exists():
        raise DeepscopeValueError(f"The data file {path} does not exist.")
    if path.suffix == ".npz":
        import numpy as np

        with np.load(path, allow_pickle=False) as f:
            obj = {k: torch.from_numpy(f[k]) for k in f.files}
    elif path.name.endswith(".safetensors"):
        from safetensors.torch import load_file

        obj = load_file(str(path))
    elif path.suffix in _PICKLE:
        obj = _torch_load(path)
    else:
        raise DeepscopeValueError(f"Unknown data file {path}: use .pt, .npz or .safetensors.")
    if isinstance(obj, (tuple, list)) and len(obj) == 2:
        return obj[0], obj[1]
    if isinstance(obj, Mapping):
        return _pair_from_mapping(obj)
    if isinstance(obj, torch.Tensor):
        return obj, None
    raise DeepscopeValueError(f"{path} holds a {type(obj).__name__}; expected (inputs, "
                              "targets) or a dict.")


def sha256_of_state(model: nn.Module) -> str:
    """SHA-256 over the model's state dict (names, dtypes, shapes and bytes, in order)."""
    h = hashlib.sha256()
    for name, t in model.state_dict().items():
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy()
                 .tobytes())
    return h.hexdigest()


def sha256_of_files(*paths: str | Path | None) -> str | None:
    """SHA-256 over the bytes of the given files (``None`` if none given)."""
    paths = [Path(p) for p in paths if p is not None]
    if not paths:
        return None
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()
