"""What a study point carries to the worker that computes it: every file the point reads that
the installed package does not hold.

A point names its platform and guest kinds as the spec wrote them: a shipped profile's name, a
path relative to the spec, or a name found in the user's profile directories (``--profiles``,
``VTLBSIM_PROFILES``). None of those means anything on a Dask worker started elsewhere, on
another machine, without the spec's directory or the user's. So ``expand`` resolves each name
where the spec is read and the point carries a ``FileRef``: for a file of the installed
package, its path inside the package (the worker reads its own copy: same package, same file;
``sweep.worker_mismatch`` holds the worker to the same model version); for any other file, its
name and its bytes. A worker where the name as written finds a file with those bytes (the
machine that read the spec, a shared checkout) uses the name as written; any other writes the
bytes to a private directory and is given that path instead (``platform_here``,
``kind_here``). The cost model then reads exactly what it would have read where the spec is.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from .. import datafiles


@dataclass(frozen=True, slots=True)
class FileRef:
    """A file a point reads: in the installed package (``package``, its path under the
    package's data directory) or carried (``name``, the file name, and ``data``, its bytes)."""

    package: str = ""
    name: str = ""
    data: bytes = b""

    @property
    def shipped(self) -> bool:
        """The file is one of the installed package's."""
        return bool(self.package)

    @property
    def digest(self) -> str:
        """SHA-256 (16 hex digits) of the file's bytes."""
        data = self._package_path().read_bytes() if self.package else self.data
        return hashlib.sha256(data).hexdigest()[:16]

    def _package_path(self) -> Path:
        return datafiles.package_dir("").joinpath(*self.package.split("/"))


def file_ref(path: Path) -> FileRef:
    """The reference to carry for the file at ``path`` (resolved where the spec is read)."""
    data_dir = datafiles.package_dir("").resolve()
    real = path.resolve()
    if real.is_relative_to(data_dir):
        return FileRef(package=real.relative_to(data_dir).as_posix())
    return FileRef(name=real.name, data=real.read_bytes())


_lock = threading.Lock()
_where: list[Path] = []


def _private_dir() -> Path:
    """This process's directory of carried files (removed when the process exits)."""
    if not _where:
        d = Path(tempfile.mkdtemp(prefix="vtlbsim-carried-"))
        atexit.register(shutil.rmtree, d, True)
        _where.append(d)
    return _where[0]


def local_path(ref: FileRef) -> str:
    """Where this process reads ``ref``: its own package's copy, or the carried bytes written
    (once per content) under this process's private directory, with its own file name."""
    if ref.package:
        return str(ref._package_path())
    with _lock:
        target = _private_dir() / ref.digest / ref.name
        if not target.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(f".{ref.name}.{os.getpid()}")
            tmp.write_bytes(ref.data)
            tmp.replace(target)
    return str(target)


def _same(found: Path | None, ref: FileRef) -> bool:
    """``found`` exists and holds the bytes of ``ref``."""
    try:
        data = found.read_bytes() if found is not None else None
    except OSError:
        return False
    return data is not None and hashlib.sha256(data).hexdigest()[:16] == ref.digest


@cache
def platform_here(written: str, base_dir: str, ref: FileRef) -> str:
    """How this process names the platform profile ``ref``: as written, if that finds the same
    file here, else the path of its copy (``local_path``)."""
    from ..cost.platform import PlatformError, load_platform

    try:
        found: Path | None = Path(load_platform(written, base_dir).path)
    except (PlatformError, OSError):
        found = None
    return written if _same(found, ref) else local_path(ref)


@cache
def kind_here(written: str, base_dir: str, ref: FileRef) -> str:
    """How this process names the guest kind ``ref`` (as ``platform_here``)."""
    from ..guest.kinds import KindError, kind_path

    try:
        found: Path | None = kind_path(written, base_dir)
    except (KindError, OSError):
        found = None
    return written if _same(found, ref) else local_path(ref)
