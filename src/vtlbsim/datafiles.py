"""Where vtlbsim finds its data files: package data first read with ``importlib.resources``,
so an installed wheel works from any directory, and the user's own directories before it.

The package ships, under ``vtlbsim/data/``:

- ``profiles/``: platform profiles (``NAME.toml``), and ``profiles/guests/``: guest kinds;
- ``studies/``: study specs (the flagship ``seed.toml``);
- ``published/``: the published-measurement record (``vtlbsim validate --published``,
  ``vtlbsim calibrate``);
- any further collection a sub-package declares.

A user adds directories of their own with the environment variable ``VTLBSIM_PROFILES``
(``os.pathsep``-separated) or the CLI's ``--profiles DIR`` (``add_user_dir``). A user directory
is laid out like ``data/profiles``: platform TOMLs at its top, guest kinds in ``guests/``. User
directories come first, so a user's file of the same name shadows the shipped one.
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

ENV_VAR = "VTLBSIM_PROFILES"
"""Extra profile directories, ``os.pathsep``-separated, searched before the shipped ones."""

PROFILES = "profiles"
GUESTS = "profiles/guests"
STUDIES = "studies"
PUBLISHED = "published"
"""The published-measurement record: one experiment TOML per measurement (``cost/published.py``)."""

_user_dirs: list[Path] = []


def package_dir(collection: str) -> Path:
    """The shipped directory of a collection (``PROFILES``, ``GUESTS``, ``STUDIES``, ...)."""
    root = files("vtlbsim") / "data"
    # Every supported install (wheel, editable, source tree) unpacks to the file system.
    return Path(str(root)).joinpath(*collection.split("/"))


def add_user_dir(path: Path) -> None:
    """Search ``path`` (laid out like ``data/profiles``) before the shipped profiles."""
    p = Path(path)
    if p not in _user_dirs:
        _user_dirs.insert(0, p)


def user_dirs() -> list[Path]:
    """The user's profile directories, in search order: ``--profiles`` then the variable."""
    env = [Path(d) for d in os.environ.get(ENV_VAR, "").split(os.pathsep) if d]
    return [*_user_dirs, *env]


def search_dirs(collection: str) -> list[Path]:
    """Where to look for a file of ``collection``: the user's directories, then the package."""
    out: list[Path] = []
    if collection in (PROFILES, GUESTS):
        sub = "" if collection == PROFILES else "guests"
        out = [d / sub if sub else d for d in user_dirs()]
    out.append(package_dir(collection))
    return out


def find(collection: str, name: str, suffix: str = ".toml") -> Path | None:
    """The first file ``NAME.toml`` of ``collection`` on the search path, or None."""
    for d in search_dirs(collection):
        p = d / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def names(collection: str, suffix: str = ".toml") -> list[str]:
    """Every name (file stem) of ``collection`` on the search path, sorted, without repeats."""
    found: set[str] = set()
    for d in search_dirs(collection):
        if d.is_dir():
            found.update(p.stem for p in d.glob(f"*{suffix}"))
    return sorted(found)


def shipped_files(collection: str, pattern: str = "*.toml") -> list[Path]:
    """Every shipped file of ``collection`` (recursively): what a model digest covers."""
    d = package_dir(collection)
    return sorted(d.rglob(pattern)) if d.is_dir() else []
