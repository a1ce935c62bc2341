"""The verdict cache's core fingerprint covers every file the checker runs: each module the
explorer, the engine and the guest model import (vtlbsim's own, transitively) is listed in
``matrix.CORE_SOURCES``, apart from those another part of the pair fingerprint covers or that
decide no verdict. A module added to the checker and left out of the list would let a stale
cached verdict be read as current."""

from __future__ import annotations

from vtlbsim.check.fingerprint import module_closure
from vtlbsim.check.matrix import _PKG, CORE_SOURCES

NOT_CORE = {
    "__init__.py": "the package's version string and exports",
    "datafiles.py": "where data files are found, not what they say",
    "tomlfile.py": "TOML syntax errors, not their content",
    "litmus/__init__.py": "re-exports",
    "litmus/errors.py": "the error type of a bad litmus file",
    "hyp/registry.py": "name resolution; the policy's own modules are the policy fingerprint",
}
"""Files the checker imports that a verdict does not depend on through the core, and why."""


def test_every_module_the_checker_imports_is_a_core_source() -> None:
    roots = ["vtlbsim.check.explore", "vtlbsim.sim.engine", "vtlbsim.guest.domain"]
    imported = {f.relative_to(_PKG).as_posix() for f in module_closure(roots)}
    listed = {f.relative_to(_PKG).as_posix() for pat in CORE_SOURCES for f in _PKG.glob(pat)}
    policies = {f for f in imported if f.startswith("hyp/policies/")}  # per-policy fingerprint
    assert "check/explore.py" in imported and "sim/engine.py" in imported
    assert imported - listed - policies - NOT_CORE.keys() == set()
    # every listed file is imported too (the arch/*.py pattern may list a module none imports)
    assert all(f.startswith("arch/") for f in listed - imported)
