"""Guest rate profiles (SPEC §3): how often a guest kind changes what its discipline covers.

A kind = a *discipline* (``kinds.py``: which instructions after each change) + *rates* (here:
per running vCPU-second, and working sets), both in one TOML file (``kinds.py``). Each rate is
``{ value = ..., source = "..." }`` or ``{ value = ..., assumption = "..." }``. A rate that only
prices a discipline key (``DISCIPLINE_RATES``) is required exactly when the kind uses that key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .. import datafiles
from ..arch.ops import Arch
from .kinds import Discipline, KindError, load_kind_file

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

DISCIPLINE_RATES: dict[str, tuple[str, str]] = {
    "exec_maps_per_s": (
        "map_exec",
        "executable user pages mapped (exec page faults), per running vCPU-second",
    ),
    "pte_relax_fraction": (
        "pte_relax",
        "of pte_changes_per_s, the share that are permission relaxations (0..1)",
    ),
}
"""Rates that price one discipline key: rate → (the key, its meaning). Required when the kind
gives that key a non-empty instruction list, refused otherwise (a rate nothing uses)."""


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
    exec_maps_per_s: float = 0.0
    pte_relax_fraction: float = 0.0
    provenance: dict[str, tuple[str, str]] = field(default_factory=dict)
    """Rate name → ("source" | "assumption", text)."""
    path: str = ""

    @property
    def arch(self) -> Arch:
        return self.discipline.arch

    def assumed_rates(self) -> list[str]:
        """Rates marked as assumptions."""
        return [k for k, (how, _) in self.provenance.items() if how == "assumption"]


def _rates(
    data: Any, where: str, discipline: Discipline
) -> tuple[dict[str, float], dict[str, tuple[str, str]]]:
    if not isinstance(data, dict):
        raise RatesError(f"{where}: rates: expected a [rates] table")
    values: dict[str, float] = {}
    prov: dict[str, tuple[str, str]] = {}
    used = [r for r, (k, _) in DISCIPLINE_RATES.items() if getattr(discipline, k)]
    for key, raw in data.items():
        if key in DISCIPLINE_RATES and key not in used:
            dkey = DISCIPLINE_RATES[key][0]
            raise RatesError(
                f"{where}: rates.{key}: prices discipline.{dkey}, which this kind does not use"
            )
        if key not in RATE_FIELDS and key not in DISCIPLINE_RATES:
            known = ", ".join([*RATE_FIELDS, *DISCIPLINE_RATES])
            raise RatesError(f"{where}: rates.{key}: unknown rate (expected one of {known})")
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
    missing = [k for k in [*RATE_FIELDS, *used] if k not in values]
    if missing:
        raise RatesError(f"{where}: rates.{missing[0]}: required rate is missing")
    return values, prov


def rates_from_dict(data: dict[str, Any], where: str, discipline: Discipline) -> GuestRates:
    """A GuestRates from a kind file's ``[rates]`` and its discipline (read by ``kinds.py``)."""
    values, prov = _rates(data.get("rates"), where, discipline)
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
    try:
        discipline, data = load_kind_file(kind, base_dir)
    except KindError as exc:
        raise RatesError(str(exc)) from None
    rates = rates_from_dict(data, discipline.path, discipline)
    _CACHE[key] = rates
    return rates
