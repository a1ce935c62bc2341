"""Guest rate profiles (SPEC §3): how often a guest kind changes what its discipline covers.

A kind = a *discipline* (``kinds.py``: which instructions after each change) + *rates* (here:
per running vCPU-second, and working sets). Built-in kinds read ``profiles/guests/KIND.toml``,
which holds only ``[rates]``; a user kind is a TOML file (a path in the workload's ``kind``)
with ``name``, ``arch``, a ``[discipline]`` table (fields of ``Discipline``) and ``[rates]``.
Each rate is ``{ value = ..., source = "..." }`` or ``{ value = ..., assumption = "..." }``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import datafiles, tomlfile
from ..arch.ops import Arch, lookup_op
from .kinds import DISCIPLINES, Discipline

GUEST_PROFILE_DIR = datafiles.package_dir(datafiles.GUESTS)
"""The shipped guest kinds (package data)."""

RATE_FIELDS: dict[str, str] = {
    "pte_changes_per_s": "user PTE changes that need a TLB invalidation, per running vCPU-second",
    "pte_local_fraction": "of those, the share where the mm ran on this CPU only (0..1)",
    "asid_flushes_per_s": "invalidations of one whole ASID, per running vCPU-second",
    "context_switches_per_s": "guest process context switches (TTBR switches) per running vCPU-second",
    "asid_rollovers_per_s": "ASID generation rollovers per running vCPU-second",
    "code_changes_per_s": "code modifications needing I-cache maintenance per running vCPU-second",
    "tlb_working_set_pages": "distinct 4 KiB pages the vCPU touches between switches (TLB entries)",
    "icache_working_set_kib": "instruction footprint between switches, KiB",
    "shared_fraction": "share of a vCPU's TLB working set that its sibling vCPUs also use (kernel)",
}
"""Every rate a profile gives, with its meaning."""


class RatesError(ValueError):
    """A missing or malformed guest kind; ``str()`` is one line naming the file and field."""


@dataclass(frozen=True, slots=True)
class GuestRates:
    """A guest kind's discipline and its rates (see ``RATE_FIELDS`` for each figure)."""

    kind: str
    discipline: Discipline
    pte_changes_per_s: float
    pte_local_fraction: float
    asid_flushes_per_s: float
    context_switches_per_s: float
    asid_rollovers_per_s: float
    code_changes_per_s: float
    tlb_working_set_pages: float
    icache_working_set_kib: float
    shared_fraction: float
    provenance: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Rate name → ("source" | "assumption", text)."""
    path: str = ""

    @property
    def arch(self) -> Arch:
        return self.discipline.arch

    def assumed_rates(self) -> list[str]:
        """Rates marked as assumptions."""
        return [k for k, (how, _) in self.provenance.items() if how == "assumption"]


def _rates(data: Any, where: str) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    if not isinstance(data, dict):
        raise RatesError(f"{where}: rates: expected a [rates] table")
    values: dict[str, float] = {}
    prov: dict[str, tuple[str, str]] = {}
    for key, raw in data.items():
        if key not in RATE_FIELDS:
            raise RatesError(
                f"{where}: rates.{key}: unknown rate (expected one of {', '.join(RATE_FIELDS)})"
            )
        if not isinstance(raw, dict) or not isinstance(raw.get("value"), int | float):
            raise RatesError(f'{where}: rates.{key}: expected {{ value = NUMBER, source = "..." }}')
        extra = set(raw) - {"value", "source", "assumption"}
        if extra:
            raise RatesError(f"{where}: rates.{key}: unknown key {sorted(extra)[0]!r}")
        has_src, has_asm = "source" in raw, "assumption" in raw
        if has_src == has_asm:
            raise RatesError(f"{where}: rates.{key}: needs exactly one of 'source' or 'assumption'")
        value = float(raw["value"])
        if value < 0 or (key.endswith("fraction") and value > 1):
            raise RatesError(f"{where}: rates.{key}: expected a value >= 0 (fractions <= 1)")
        values[key] = value
        how = "source" if has_src else "assumption"
        prov[key] = (how, str(raw[how]))
    missing = [k for k in RATE_FIELDS if k not in values]
    if missing:
        raise RatesError(f"{where}: rates.{missing[0]}: required rate is missing")
    return values, prov


def _ops(value: Any, arch: Arch, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RatesError(f"{where}: discipline.{key}: expected a list of instruction names")
    for name in value:
        if lookup_op(arch, name) is None:
            raise RatesError(f"{where}: discipline.{key}: {name!r} is not an {arch} instruction")
    return tuple(v.lower() for v in value)


def _discipline(data: dict[str, Any], name: str, where: str) -> Discipline:
    try:
        arch = Arch(data.get("arch", ""))
    except ValueError:
        raise RatesError(f"{where}: arch: expected 'aarch64' or 'aarch32'") from None
    disc = data.get("discipline")
    if not isinstance(disc, dict):
        raise RatesError(f"{where}: discipline: expected a [discipline] table for a user kind")
    allowed = {
        "pte_user",
        "pte_user_local",
        "asid_flush",
        "rollover",
        "rollover_broadcast",
        "code_change",
        "ttbr_switch",
        "percpu_tables",
        "smp",
    }
    for key in disc:
        if key not in allowed:
            raise RatesError(
                f"{where}: discipline.{key}: unknown field (expected one of {', '.join(sorted(allowed))})"
            )
    for key in ("pte_user", "asid_flush", "rollover", "code_change"):
        if key not in disc:
            raise RatesError(f"{where}: discipline.{key}: required field is missing")
    for key in ("rollover_broadcast", "percpu_tables", "smp"):
        if key in disc and not isinstance(disc[key], bool):
            raise RatesError(f"{where}: discipline.{key}: expected true or false")
    local = disc.get("pte_user_local")
    return Discipline(
        name=name,
        arch=arch,
        pte_user=_ops(disc["pte_user"], arch, where, "pte_user"),
        pte_user_local=None if local is None else _ops(local, arch, where, "pte_user_local"),
        asid_flush=_ops(disc["asid_flush"], arch, where, "asid_flush"),
        rollover=_ops(disc["rollover"], arch, where, "rollover"),
        rollover_broadcast=bool(disc.get("rollover_broadcast", False)),
        code_change=_ops(disc["code_change"], arch, where, "code_change"),
        ttbr_switch=_ops(disc.get("ttbr_switch", []), arch, where, "ttbr_switch"),
        percpu_tables=bool(disc.get("percpu_tables", False)),
        smp=bool(disc.get("smp", True)),
    )


def rates_from_dict(data: dict[str, Any], where: str, builtin: str | None = None) -> GuestRates:
    """A GuestRates from a guest TOML's data; a built-in kind's discipline comes from kinds.py."""
    allowed = {"name", "arch", "description", "discipline", "rates"}
    for key in data:
        if key not in allowed:
            raise RatesError(
                f"{where}: {key}: unknown field (expected one of {', '.join(sorted(allowed))})"
            )
    if builtin is not None:
        discipline = DISCIPLINES[builtin]
        if "discipline" in data:
            raise RatesError(
                f"{where}: discipline: a built-in kind's discipline is in guest/kinds.py"
            )
    else:
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise RatesError(f"{where}: name: expected the kind's name")
        discipline = _discipline(data, name, where)
    values, prov = _rates(data.get("rates"), where)
    return GuestRates(
        kind=discipline.name, discipline=discipline, provenance=prov, path=where, **values
    )


_CACHE: dict[str, GuestRates] = {}


def load_rates(kind: str, base_dir: str = "") -> GuestRates:
    """The rates of a built-in kind (``KIND_NAMES``) or of a user kind TOML (a path, resolved
    against ``base_dir`` first); RatesError (one line) if missing or malformed."""
    key = f"{base_dir}\0{kind}"
    if key in _CACHE:
        return _CACHE[key]
    builtin = kind if kind in DISCIPLINES else None
    if builtin is not None:
        path = GUEST_PROFILE_DIR / f"{kind}.toml"
    else:
        p = Path(kind)
        named = datafiles.find(datafiles.GUESTS, kind)
        cands = [p] if p.is_absolute() else [Path(base_dir) / p, p, *([named] if named else [])]
        found = next((c for c in cands if c.suffix == ".toml" and c.is_file()), None)
        if found is None:
            known = ", ".join(DISCIPLINES)
            raise RatesError(
                f"unknown guest kind {kind!r} (expected one of: {known}, or a path to a kind .toml)"
            )
        path = found
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RatesError(f"{path}: cannot read guest kind: {exc.strerror}") from None
    data = tomlfile.loads(text, str(path), RatesError)
    rates = rates_from_dict(data, str(path), builtin)
    _CACHE[key] = rates
    return rates
