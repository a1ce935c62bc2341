"""Building the census plugin: its C sources ship as package data (``vtlbsim/data/census``) and
are compiled with the system C compiler by their Makefile, once per source digest."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from .. import datafiles
from .fetch import CensusError, Progress, run

SOURCE_DIR = datafiles.package_dir("census")
"""The plugin's Makefile and ``plugin/*.c``, ``plugin/*.h``."""


def source_digest() -> str:
    """SHA-256 (16 hex digits) of the Makefile and the plugin sources."""
    h = hashlib.sha256()
    for p in sorted([SOURCE_DIR / "Makefile", *(SOURCE_DIR / "plugin").glob("*.[ch]")]):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def build(cache: Path, progress: Progress) -> tuple[Path, Path]:
    """(libcensus.so, libcensusdecode.so), built into ``cache/plugin/DIGEST`` if not there."""
    out = cache / "plugin" / source_digest()
    plugin, decoder = out / "libcensus.so", out / "libcensusdecode.so"
    if plugin.is_file() and decoder.is_file():
        return plugin, decoder
    for tool in ("make", "cc"):
        if shutil.which(tool) is None:
            raise CensusError(
                f"building the census plugin needs {tool} (apt-get install build-essential)"
            )
    progress(f"building the census plugin into {out}")
    out.mkdir(parents=True, exist_ok=True)
    run(["make", "-s", "-C", str(SOURCE_DIR), f"OUT={out}"], "building the census plugin")
    return plugin, decoder
