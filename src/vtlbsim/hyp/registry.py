"""Finding policies by name: built-ins, shipping profiles, the ``vtlbsim.policies`` entry-point
group, and dotted paths (``mypkg.mod:MyPolicy``)."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

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


def resolve(spec: str) -> Policy:
    """A policy instance from a registered name or a ``module:Class`` / ``module.Class`` path."""
    reg = all_policies()
    if spec in reg:
        return reg[spec]()
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
    raise PolicyError(f"unknown policy {spec!r} (expected one of: {known}, or module:Class)")
