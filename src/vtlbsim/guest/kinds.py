"""Guest kinds (SPEC §3) as data: one TOML file per kind, the built-ins shipped in
``data/profiles/guests/NAME.toml`` (found through ``datafiles``), a user's anywhere.

A kind file holds ``name``, ``arch``, ``description``, a ``[discipline]`` table — which
instructions the guest issues after each kind of change — and ``[rates]`` (``rates.py``). Every
discipline entry carries the place in the OS source it comes from::

    [discipline]
    pte_user = { value = ["tlbimvais"], source = "Linux arch/arm/mm/tlb-v7.S: v7wbi_flush_user_tlb_range" }
    smp = { value = true, source = "..." }

Instruction lists use vtlbsim's instruction names (``arch/ops.py``, the litmus spellings) and
must exist on the kind's architecture. A malformed file raises ``KindError`` whose text is one
line naming the file and the key. No discipline is written in Python.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .. import datafiles, tomlfile
from ..arch.ops import Arch, lookup_op

OP_KEYS: dict[str, str] = {
    "pte_user": "after changing a user (non-global) PTE: TLB instructions by VA",
    "pte_user_local": "the same when the address space was active on this CPU only "
    "(absent: always pte_user)",
    "pte_relax": "after a permission relaxation of a valid PTE (same output, more "
    "permissions: write fault on a reused page, dirty or spurious fault; absent: pte_user)",
    "asid_flush": "invalidating one whole ASID (an address space torn down)",
    "rollover": "what each CPU runs at an ASID-generation rollover",
    "code_change": "after writing code (cacheflush, JIT): I-cache and branch-predictor maintenance",
    "map_exec": "when an executable page is mapped",
    "ttbr_switch": "on every translation-table (address-space) switch",
}
"""Every instruction-list key of ``[discipline]``, with what it means."""

FLAG_KEYS: dict[str, str] = {
    "rollover_broadcast": "the rollover is one broadcast by the CPU that rolls over (else each "
    "CPU runs it locally at its next switch)",
    "shared_asid": "every process uses one ASID (no ASID allocator)",
    "percpu_tables": "each CPU translates through its own table (same VA, ASID, other page)",
    "smp": "the kernel runs on several CPUs (false: one vCPU)",
}
"""Every true/false key of ``[discipline]``, with what it means."""

OPTIONAL: dict[str, object] = {
    "pte_user_local": None,
    "pte_relax": None,
    "rollover_broadcast": False,
    "shared_asid": False,
    "percpu_tables": False,
}
"""Keys a kind may leave out, and what leaving them out means."""

TOP_KEYS = ("name", "arch", "description", "discipline", "rates")

KIND_NAMES: tuple[str, ...] = (
    "linux-arm64-smp",
    "linux-arm64-local",
    "linux-arm64-local-relax",
    "linux-arm32-smp",
    "linux-arm32-up",
    "freebsd-arm64-smp",
    "freebsd-armv7-up",
    "freebsd-armv7-smp",
    "percpu-tables",
)
"""The built-in guest kinds, in SPEC §3 order (each is ``data/profiles/guests/NAME.toml``)."""


class KindError(ValueError):
    """A missing or malformed guest kind; ``str()`` is one line naming the file and key."""


@dataclass(frozen=True, slots=True)
class Discipline:
    """What a guest kind issues (instruction names as litmus spells them) and where each entry
    comes from (``citations``: key → the OS source file and function)."""

    name: str
    arch: Arch
    pte_user: tuple[str, ...]
    pte_user_local: tuple[str, ...] | None
    asid_flush: tuple[str, ...]
    rollover: tuple[str, ...]
    rollover_broadcast: bool
    code_change: tuple[str, ...]
    map_exec: tuple[str, ...] = ()
    ttbr_switch: tuple[str, ...] = ()
    pte_relax: tuple[str, ...] | None = None
    shared_asid: bool = False
    percpu_tables: bool = False
    smp: bool = True
    description: str = field(default="", compare=False)
    citations: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    path: str = field(default="", compare=False)
    """The file it was read from."""

    def behaviour(self) -> dict[str, Any]:
        """Everything that decides what the guest does (not its name, prose or citations)."""
        skip = {"name", "description", "citations", "path"}
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip}

    def instructions(self) -> list[str]:
        """Every instruction the discipline names, each once, sorted."""
        names: set[str] = set()
        for key in OP_KEYS:
            names.update(getattr(self, key) or ())
        return sorted(names)


def _entry(disc: dict[str, Any], key: str, where: str) -> tuple[Any, str]:
    raw = disc[key]
    form = '{ value = [...], source = "FILE: FUNCTION" }'
    if key in FLAG_KEYS:
        form = '{ value = true|false, source = "FILE: FUNCTION" }'
    if not isinstance(raw, dict) or "value" not in raw:
        raise KindError(f"{where}: discipline.{key}: expected {form}")
    extra = sorted(set(raw) - {"value", "source"})
    if extra:
        raise KindError(f"{where}: discipline.{key}: unknown key {extra[0]!r} (expected {form})")
    src = raw.get("source")
    if not isinstance(src, str) or not src.strip():
        raise KindError(
            f"{where}: discipline.{key}: missing citation: add source = "
            '"the OS source file and function it comes from"'
        )
    return raw["value"], src.strip()


def _ops(value: Any, arch: Arch, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise KindError(f"{where}: discipline.{key}: expected a list of instruction names")
    other = Arch.AARCH32 if arch is Arch.AARCH64 else Arch.AARCH64
    for name in value:
        if lookup_op(arch, name) is not None:
            continue
        if lookup_op(other, name) is not None:
            raise KindError(
                f"{where}: discipline.{key}: {name!r} is an {other} instruction, not {arch}"
            )
        raise KindError(f"{where}: discipline.{key}: unknown instruction {name!r}")
    return tuple(v.lower() for v in value)


def discipline_from_dict(data: dict[str, Any], where: str) -> Discipline:
    """A Discipline from a kind file's data; KindError (one line) names ``where`` and the key."""
    for key in data:
        if key not in TOP_KEYS:
            raise KindError(f"{where}: {key}: unknown key (expected one of {', '.join(TOP_KEYS)})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise KindError(f"{where}: name: expected the kind's name")
    try:
        arch = Arch(data.get("arch", ""))
    except ValueError:
        raise KindError(f"{where}: arch: expected 'aarch64' or 'aarch32'") from None
    desc = data.get("description", "")
    if not isinstance(desc, str):
        raise KindError(f"{where}: description: expected a string")
    disc = data.get("discipline")
    if not isinstance(disc, dict):
        raise KindError(f"{where}: discipline: expected a [discipline] table")
    known = [*OP_KEYS, *FLAG_KEYS]
    for key in disc:
        if key not in known:
            raise KindError(
                f"{where}: discipline.{key}: unknown key (expected one of {', '.join(known)})"
            )
    values: dict[str, Any] = dict(OPTIONAL)
    cites: dict[str, str] = {}
    for key in disc:  # in the file's order: the first bad entry is the one reported
        value, cites[key] = _entry(disc, key, where)
        if key in FLAG_KEYS:
            if not isinstance(value, bool):
                raise KindError(f"{where}: discipline.{key}: expected value = true or false")
            values[key] = value
        else:
            values[key] = _ops(value, arch, where, key)
    for key in known:
        if key not in disc and key not in OPTIONAL:
            raise KindError(f"{where}: discipline.{key}: required key is missing")
    if values["shared_asid"] and values["percpu_tables"]:
        raise KindError(
            f"{where}: discipline.shared_asid: a per-CPU-tables kind has no processes to share "
            "an ASID (set one of shared_asid, percpu_tables)"
        )
    return Discipline(
        name=name.strip(), arch=arch, description=desc, citations=cites, path=where, **values
    )


_CACHE: dict[str, tuple[Discipline, dict[str, Any]]] = {}


def kind_path(kind: str, base_dir: str = "") -> Path:
    """The file of a built-in kind (on the profile search path) or of a user kind (a path,
    relative paths resolved against ``base_dir`` first); KindError if there is none."""
    p = Path(kind)
    named = datafiles.find(datafiles.GUESTS, kind) if "/" not in kind else None
    if p.suffix != ".toml" and named is not None:
        return named
    cands = [p] if p.is_absolute() else [Path(base_dir) / p, p]
    found = next((c for c in cands if c.suffix == ".toml" and c.is_file()), None)
    if found is None:
        raise KindError(
            f"unknown guest kind {kind!r} (expected one of: {', '.join(KIND_NAMES)}, "
            "or a path to a kind .toml)"
        )
    return found


def load_kind_file(kind: str, base_dir: str = "") -> tuple[Discipline, dict[str, Any]]:
    """The discipline of a kind and the file's data (for its ``[rates]``)."""
    path = kind_path(kind, base_dir)
    key = str(path.resolve())
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KindError(f"{path}: cannot read guest kind: {exc}") from None
    data = tomlfile.loads(text, str(path), KindError)
    out = (discipline_from_dict(data, str(path)), data)
    _CACHE[key] = out
    return out


def load_kind(kind: str, base_dir: str = "") -> Discipline:
    """The discipline of a built-in kind (by name) or of a kind file (by path)."""
    return load_kind_file(kind, base_dir)[0]


def builtin(name: str) -> Discipline:
    """A shipped kind's discipline (the package's file, never a user's of the same name)."""
    path = datafiles.package_dir(datafiles.GUESTS) / f"{name}.toml"
    if name not in KIND_NAMES or not path.is_file():
        raise KindError(f"unknown built-in guest kind {name!r}")
    return load_kind(str(path))


def behaviour_digest() -> str:
    """SHA-256 over every built-in kind's behaviour (what the checker replays): a change to a
    shipped discipline changes it; a change to a citation, a description or a rate does not."""
    h = hashlib.sha256()
    for name in KIND_NAMES:
        d = builtin(name)
        h.update(name.encode())
        h.update(json.dumps(d.behaviour(), sort_keys=True, default=str).encode())
    return h.hexdigest()
