"""Files of a run folder: atomic writes, the manifest and its format version, the run lock.

Nothing here imports numpy, pandas or torch, so listing a store answers at once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from deepscope.errors import DeepscopeValueError

try:  # POSIX advisory locks; elsewhere the lock file's pid is checked instead
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["FORMAT", "RunLocked", "read_manifest", "write_atomic"]

#: Store format written by this deepscope. 1: manifests without a ``format`` key (before
#: versions were recorded; read as they are). 2: ``format`` recorded, checkpoints loadable
#: with ``torch.load(weights_only=True)``, artifacts never pickled.
FORMAT = 2
#: Oldest store format this deepscope reads.
OLDEST_FORMAT = 1

MANIFEST = "manifest.json"
LOCK = "run.lock"


class RunLocked(DeepscopeValueError):
    """Another live process is writing the run."""


def now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


def iso(t: _dt.datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def json_default(obj: Any) -> Any:
    """Turn what configs commonly hold (dataclasses, paths, numpy, tensors) into JSON."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return dataclasses.asdict(obj)
    item = getattr(obj, "item", None)  # numpy scalars
    if callable(item) and getattr(obj, "shape", None) == ():
        return item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj, key=repr)
    tolist = getattr(obj, "tolist", None)  # numpy arrays, torch tensors
    if callable(tolist):
        return tolist()
    return str(obj)  # torch dtypes and devices, enums, paths ...


def dumps(obj: Any, **kwargs: Any) -> str:
    return json.dumps(obj, default=json_default, allow_nan=True, **kwargs)


def write_atomic(path: Path, data: bytes | Callable[[BinaryIO], object]) -> None:
    """Write ``path`` through a hidden temporary file, fsync, then :func:`os.replace`.

    ``data`` is the bytes to write, or a function that writes into the open binary file
    (e.g. ``lambda fh: pq.write_table(table, fh)``). A reader never sees a partial file;
    an interrupted write (even Ctrl-C) leaves no temporary file behind.
    """
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # only still there when writing failed


def pid_alive(pid: Any) -> bool | None:
    """True/False when we can tell whether process ``pid`` on this host lives; else None."""
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0 or os.name == "nt":
        return None  # on Windows os.kill would terminate the process: do not probe
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether ``pid`` has exited but not been reaped by its parent (Linux ``/proc``; a
    zombie still answers ``kill(pid, 0)`` but will never write again)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    fields = stat.rsplit(")", 1)              # the command name may hold spaces and ')'
    return len(fields) == 2 and fields[1].split()[:1] == ["Z"]


def effective_status(manifest: Mapping[str, Any]) -> str:
    """The manifest's status, with a 'running' run whose process died shown 'interrupted'."""
    status = manifest.get("status", "running")
    if status != "running" or manifest.get("host") != socket.gethostname():
        return status
    return "interrupted" if pid_alive(manifest.get("pid")) is False else status


# --------------------------------------------------------------------------- manifest


def _damaged(path: Path, what: str) -> DeepscopeValueError:
    return DeepscopeValueError(f"Damaged run folder {str(path.parent)!r}: {path.name} {what}.")


def read_manifest(path: Path) -> dict[str, Any]:
    """Read and check ``<run>/manifest.json``; a damaged or too new one raises one line.

    Manifests of store format 1 (no ``format`` key) are read as they are.

    Raises:
        DeepscopeValueError: missing, unreadable, empty, not a JSON object, without a
            run id and study, or written in a store format this deepscope does not read.
    """
    path = Path(path)
    if not path.is_file():
        raise DeepscopeValueError(f"No run at {str(path.parent)!r}: it has no {path.name}.")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _damaged(path, f"cannot be read ({type(exc).__name__})") from None
    if not text.strip():
        raise _damaged(path, "is empty")
    try:
        manifest = json.loads(text)
    except ValueError as exc:
        raise _damaged(path, f"is not valid JSON ({exc})") from None
    if not isinstance(manifest, dict):
        raise _damaged(path, f"holds a JSON {type(manifest).__name__}, not an object")
    for key in ("id", "study"):
        if not isinstance(manifest.get(key), str) or not manifest[key]:
            raise _damaged(path, f"has no {key!r}")
    fmt = manifest.get("format", 1)
    if not isinstance(fmt, int) or isinstance(fmt, bool) or fmt < OLDEST_FORMAT:
        raise _damaged(path, f"has an unknown store format {fmt!r}")
    if fmt > FORMAT:
        import deepscope

        wrote = (manifest.get("versions") or {}).get("deepscope", "a newer version")
        raise DeepscopeValueError(
            f"Run {manifest['id']} was written by deepscope {wrote} in store format {fmt}; "
            f"this deepscope ({deepscope.__version__}) reads formats {OLDEST_FORMAT} to "
            f"{FORMAT}: upgrade deepscope to open it."
        )
    return manifest


# --------------------------------------------------------------------------- run lock


def _lock_text() -> bytes:
    return dumps({"pid": os.getpid(), "host": socket.gethostname(),
                  "started": iso(now())}).encode()


def _holder(path: Path) -> dict[str, Any]:
    try:
        holder = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


def _locked_error(run_dir: Path, holder: Mapping[str, Any]) -> RunLocked:
    who = (f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} since "
           f"{holder.get('started', '?')}")
    return RunLocked(f"Run {run_dir.name} is being written by another process ({who}); "
                     "wait for it to finish or stop it, then resume.")


@contextlib.contextmanager
def run_lock(run_dir: Path) -> Iterator[None]:
    """Hold ``<run>/run.lock`` (pid, host, start time) while a process writes the run.

    With ``fcntl`` the lock is an advisory ``flock`` that the kernel drops when the holder
    dies, so a stale lock file is simply taken over. Without it the lock file is created
    exclusively, and one left by a dead process on this host is taken over.

    Raises:
        RunLocked: a live process holds the lock.
    """
    path = Path(run_dir) / LOCK
    if fcntl is not None:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DeepscopeValueError(f"Cannot lock run {Path(run_dir).name} for writing: "
                                      f"{exc.strerror or exc} ({str(path)!r}).") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise _locked_error(Path(run_dir), _holder(path)) from None
            os.ftruncate(fd, 0)
            os.write(fd, _lock_text())
            os.fsync(fd)
            try:
                yield
            finally:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
        finally:
            os.close(fd)
        return
    for _ in range(2):  # pragma: no cover - Windows
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder.get("host") == socket.gethostname() and not pid_alive(holder.get("pid")):
                path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            raise _locked_error(Path(run_dir), holder) from None
        os.write(fd, _lock_text())
        os.close(fd)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)
        return
    raise _locked_error(Path(run_dir), _holder(path))  # pragma: no cover
