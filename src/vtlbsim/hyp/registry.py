"""Finding policies by name: built-ins, shipping profiles, the ``vtlbsim.policies`` entry-point
group, dotted paths (``mypkg.mod:MyPolicy``) and files (``path/to/file.py:MyPolicy``)."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

from .policies import BUILTIN, SHIPPING
from .policy import Policy

ENTRY_POINT_GROUP = "vtlbsim.policies"


class PolicyError(ValueError):
    """A policy name or path that does not resolve to a Policy class."""


def _check(obj: object, where: str) -> type[Policy]:
    if not (isinstance(obj, type) and issubclass(obj, Policy)):
        raise PolicyError(f"{where} is not a vtlbsim Policy subclass")
    if not isinstance(getattr(obj, "name", None), str):
        raise PolicyError(f"{where} has no 'name' string")
    return obj


def plugin_policies() -> dict[str, type[Policy]]:
    """Policies registered by installed packages under the ``vtlbsim.policies`` group."""
    found: dict[str, type[Policy]] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            cls = _check(ep.load(), f"entry point {ep.name!r} ({ep.value})")
        except PolicyError:
            raise
        except Exception as exc:  # a broken plug-in must not take the tool down silently
            raise PolicyError(
                f"entry point {ep.name!r} ({ep.value}) failed to load: {exc}"
            ) from exc
        found[cls.name] = cls
    return found


def all_policies() -> dict[str, type[Policy]]:
    """Every registered policy by name: built-ins, then shipping profiles, then plug-ins."""
    reg = {cls.name: cls for cls in (*BUILTIN, *SHIPPING)}
    for name, cls in plugin_policies().items():
        reg.setdefault(name, cls)
    return reg


def _load_file(path_text: str) -> ModuleType:
    """The module in a ``.py`` file (loaded once per file, under a name derived from its
    absolute path, so that worker processes load it the same way)."""
    path = Path(path_text)
    if not path.is_file():
        raise PolicyError(f"{path}: no such policy file")
    full = path.resolve()
    name = "vtlbsim_policy_" + hashlib.sha256(str(full).encode()).hexdigest()[:16]
    if name in sys.modules:
        return sys.modules[name]
    where = importlib.util.spec_from_file_location(name, full)
    if where is None or where.loader is None:
        raise PolicyError(f"{path}: not a Python file")
    module = importlib.util.module_from_spec(where)
    sys.modules[name] = module
    try:
        where.loader.exec_module(module)
    except Exception as exc:  # the user's file: one line, not a traceback
        del sys.modules[name]
        raise PolicyError(f"{path}: cannot load: {type(exc).__name__}: {exc}") from exc
    return module


def resolve(spec: str) -> Policy:
    """A policy instance from a registered name, a ``module:Class`` / ``module.Class`` path,
    or a ``path/to/file.py:Class`` file."""
    reg = all_policies()
    if spec in reg:
        return reg[spec]()
    file_part, colon, attr = spec.rpartition(":")
    if colon and file_part.endswith(".py"):
        module = _load_file(file_part)
        if not hasattr(module, attr):
            raise PolicyError(f"{file_part}: no class {attr!r} in the file")
        return _check(getattr(module, attr), spec)()
    if ":" in spec or "." in spec:
        mod_name, _, attr = spec.partition(":") if ":" in spec else spec.rpartition(".")
        try:
            module = importlib.import_module(mod_name)
        except ImportError as exc:
            raise PolicyError(f"cannot import policy module {mod_name!r}: {exc}") from exc
        if not hasattr(module, attr):
            raise PolicyError(f"module {mod_name!r} has no {attr!r}")
        return _check(getattr(module, attr), spec)()
    known = ", ".join(reg)
    raise PolicyError(
        f"unknown policy {spec!r} (expected one of: {known}, or module:Class, or file.py:Class)"
    )
