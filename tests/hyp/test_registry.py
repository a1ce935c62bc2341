"""Finding a policy by name (hyp/registry.py): built-ins, shipping profiles, entry points,
``module:Class`` / ``module.Class`` paths and ``file.py:Class`` files, and the one-line error
each wrong spelling gets (DEVELOPERS.md rule 4: the message names what was given and what was
expected)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from vtlbsim.hyp import registry
from vtlbsim.hyp.registry import PolicyError, all_policies, plugin_policies, resolve

POLICY_FILE = """
from vtlbsim.arch.machine import Hcr
from vtlbsim.hyp.policy import Policy


class Mine(Policy):
    name = "{name}"
    summary = "a user's policy"

    def hcr(self, vcpu):
        return Hcr()

    def on_load(self, load):
        return ()


class NoName(Policy):
    summary = "forgot its name"

    def hcr(self, vcpu):
        return Hcr()

    def on_load(self, load):
        return ()


class Shadow(Mine):
    name = "fb"


NOT_A_CLASS = 3
"""

BUILTIN_ORDER = [
    "none",
    "fb",
    "flush-on-switch",
    "flush-on-migrate",
    "flush-1vcpu-only",
    "last-vcpu-ran",
    "fb+last-vcpu-ran",
    "flush-on-arrival",
    "trap-ttlb",
    "xen",
    "kvm",
    "hafnium",
    "xvisor",
    "gunyah",
]
"""SPEC §4's table order, then the shipping profiles (policies/__init__.py)."""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A module ``userpol_reg`` on the path holding POLICY_FILE."""
    (tmp_path / "userpol_reg.py").write_text(POLICY_FILE.format(name="mine"))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userpol_reg"
    sys.modules.pop("userpol_reg", None)


def _entry_points(monkeypatch: pytest.MonkeyPatch, *eps: EntryPoint) -> None:
    assert registry.ENTRY_POINT_GROUP == "vtlbsim.policies"  # the group a pyproject names
    monkeypatch.setattr(
        registry, "entry_points", lambda group: list(eps) if group == "vtlbsim.policies" else []
    )


def test_every_builtin_and_shipping_profile_by_name_in_table_order() -> None:
    assert list(all_policies()) == BUILTIN_ORDER
    for name in BUILTIN_ORDER:
        assert resolve(name).name == name


def test_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(PolicyError) as e:
        resolve("no-such")
    msg = str(e.value)
    assert msg.startswith("unknown policy 'no-such' (expected one of: none, fb, flush-on-switch,")
    assert "gunyah, or module:Class, or file.py:Class)" in msg


def test_a_policy_by_module_colon_class_and_module_dot_class(user_module: str) -> None:
    """``module.Class``: the class is after the last dot (the module is a dotted package path);
    ``module:Class``: the module is before the first colon (a module name has none)."""
    assert resolve(f"{user_module}:Mine").name == "mine"
    assert resolve(f"{user_module}.Mine").name == "mine"
    assert resolve("vtlbsim.hyp.policies.fb.ForceBroadcast").name == "fb"
    assert resolve("vtlbsim.hyp.policies.fb:ForceBroadcast").name == "fb"
    with pytest.raises(PolicyError) as e:
        resolve(f"{user_module}:Mine:X")
    assert str(e.value) == f"module '{user_module}' has no 'Mine:X'"


def test_module_paths_that_do_not_resolve(user_module: str) -> None:
    cases = {
        "no_such_module_xyz:Mine": "cannot import policy module 'no_such_module_xyz': ",
        "no_such_module_xyz.Mine": "cannot import policy module 'no_such_module_xyz': ",
        f"{user_module}:Missing": f"module '{user_module}' has no 'Missing'",
        f"{user_module}.Missing": f"module '{user_module}' has no 'Missing'",
        f"{user_module}:NOT_A_CLASS": f"{user_module}:NOT_A_CLASS is not a vtlbsim Policy subclass",
        f"{user_module}:NoName": f"{user_module}:NoName has no 'name' string",
        "vtlbsim.hyp.policy:VcpuInfo": "vtlbsim.hyp.policy:VcpuInfo is not a vtlbsim Policy",
    }
    for spec, says in cases.items():
        with pytest.raises(PolicyError) as e:
            resolve(spec)
        assert str(e.value).startswith(says), (spec, str(e.value))


def test_a_policy_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Loaded once per file, under ``vtlbsim_policy_`` + the first 16 hex digits of the SHA-256
    of its absolute path (so worker processes name it alike): a relative spelling of the same
    file gives the same class."""
    path = tmp_path / "pol.py"
    path.write_text(POLICY_FILE.format(name="from-file"))
    pol = resolve(f"{path}:Mine")
    assert pol.name == "from-file"
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:16]
    assert type(pol).__module__ == f"vtlbsim_policy_{digest}"
    monkeypatch.chdir(tmp_path)
    assert type(resolve("pol.py:Mine")) is type(pol)
    # the class follows the last colon: a directory name may hold one
    odd = tmp_path / "a:b"
    odd.mkdir()
    (odd / "pol.py").write_text(POLICY_FILE.format(name="colon-dir"))
    in_odd = resolve(f"{odd / 'pol.py'}:Mine")
    assert in_odd.name == "colon-dir"
    sys.modules.pop(type(in_odd).__module__, None)
    with pytest.raises(PolicyError) as e:
        resolve(f"{path}:Missing")
    assert str(e.value) == f"{path}: no class 'Missing' in the file"
    with pytest.raises(PolicyError) as e:
        resolve(f"{path}:NoName")
    assert str(e.value) == f"{path}:NoName has no 'name' string"
    sys.modules.pop(type(pol).__module__, None)


def test_files_that_do_not_load(tmp_path: Path) -> None:
    """A missing file and a file that raises are one-line errors; after a failed load the file
    is read again next time (a fixed file then loads)."""
    missing = tmp_path / "nope.py"
    with pytest.raises(PolicyError) as e:
        resolve(f"{missing}:X")
    assert str(e.value) == f"{missing}: no such policy file"
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('half-written')\n")
    with pytest.raises(PolicyError) as e:
        resolve(f"{broken}:Mine")
    assert str(e.value) == f"{broken}: cannot load: RuntimeError: half-written"
    broken.write_text(POLICY_FILE.format(name="fixed"))
    pol = resolve(f"{broken}:Mine")
    assert pol.name == "fixed"
    sys.modules.pop(type(pol).__module__, None)


def test_entry_point_plugins(user_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A plug-in is registered under its class's ``name`` (not the entry point's), after the
    built-ins; one that reuses a built-in name does not replace it."""
    group = registry.ENTRY_POINT_GROUP
    ep = EntryPoint("ep-name", f"{user_module}:Mine", group)
    _entry_points(monkeypatch, ep)
    found = plugin_policies()
    assert list(found) == ["mine"] and found["mine"].__name__ == "Mine"
    reg = all_policies()
    assert list(reg) == [*BUILTIN_ORDER, "mine"]
    assert resolve("mine").name == "mine"

    _entry_points(monkeypatch, EntryPoint("shadow", f"{user_module}:Shadow", group))
    assert plugin_policies()["fb"].__name__ == "Shadow"
    assert all_policies()["fb"].__name__ == "ForceBroadcast"
    assert type(resolve("fb")).__name__ == "ForceBroadcast"


def test_entry_points_that_do_not_load(user_module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    group = registry.ENTRY_POINT_GROUP
    _entry_points(monkeypatch, EntryPoint("gone", "no_such_module_xyz:Mine", group))
    with pytest.raises(PolicyError) as e:
        plugin_policies()
    msg = str(e.value)
    assert msg.startswith("entry point 'gone' (no_such_module_xyz:Mine) failed to load: ")
    assert "no_such_module_xyz" in msg[len("entry point 'gone' (no_such_module_xyz:Mine) ") :]
    _entry_points(monkeypatch, EntryPoint("odd", f"{user_module}:NOT_A_CLASS", group))
    with pytest.raises(PolicyError) as e:
        plugin_policies()
    assert str(e.value) == (
        f"entry point 'odd' ({user_module}:NOT_A_CLASS) is not a vtlbsim Policy subclass"
    )
    # a broken plug-in takes `resolve` of any name down with the same message, not a traceback
    with pytest.raises(PolicyError):
        resolve("fb")
