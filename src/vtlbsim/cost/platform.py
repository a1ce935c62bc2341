"""Platform profiles (``data/profiles/*.toml``, package data; see ``datafiles``): a server's geometry and maintenance costs, each
figure with its source or the reason it is assumed.

A profile file holds ``name``, ``description`` and one inline table per figure::

    cores = { value = 96, source = "Cavium ThunderX CN88xx: 48 cores per socket, 2 sockets" }
    dvm_op_cycles = { value = 600, assumption = "why this value" }

Exactly one of ``source`` / ``assumption`` per figure. ``Platform`` exposes the values as plain
attributes (``p.l2_tlb_entries``) and the provenance of each in ``p.provenance``.

Broadcast cost: the DVM model (``cost/dvm.py``) prices an IS TLBI + DSB ISH from
``dvm_op_cycles`` (the operation's round trip), ``dvm_sync_cycles`` (the Sync, serialised at the
DVM node), ``dvm_receive_cycles`` (each receiving core's stall per message),
``dvm_socket_factor`` (a broadcast over ``s`` sockets takes ``1 + factor·(s - 1)`` times as
long) and ``dvm_scope``. ``vtlbsim calibrate`` fits them to the published measurements
(docs/cost.md, "The DVM model" and "Held to the hardware record").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, ValidationError, model_validator

from .. import datafiles, tomlfile
from ..arch.ops import BpReading

PROFILE_DIR = datafiles.package_dir(datafiles.PROFILES)
"""The shipped platform profiles (package data; guest kinds in ``guests/``)."""


class PlatformError(ValueError):
    """A missing or malformed platform profile; ``str()`` is one line naming file and field."""


class Provenance(BaseModel):
    """Where a figure comes from: a citation, or why the value was assumed."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | None = None
    assumption: str | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Provenance:
        if (self.source is None) == (self.assumption is None):
            raise ValueError("each figure needs exactly one of 'source' or 'assumption'")
        return self

    @property
    def assumed(self) -> bool:
        return self.source is None


class Platform(BaseModel):
    """A platform profile: geometry, clock and maintenance latencies (cycles at ``clock_ghz``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    # -- topology and clock
    cores: int = Field(ge=1)
    sockets: int = Field(ge=1)
    clock_ghz: float = Field(gt=0)
    # -- TLB geometry (entries, associativity; ways == entries means fully associative)
    l1i_tlb_entries: int = Field(ge=1)
    l1i_tlb_ways: int = Field(ge=1)
    l1d_tlb_entries: int = Field(ge=1)
    l1d_tlb_ways: int = Field(ge=1)
    l2_tlb_entries: int = Field(ge=1)
    l2_tlb_ways: int = Field(ge=1)
    page_size: int = Field(ge=4096)
    """Translation granule in bytes (4096: events use 4 KiB page numbers)."""
    # -- instruction cache
    icache_kib: int = Field(ge=1)
    icache_line_bytes: int = Field(ge=16)
    icache_ways: int = Field(ge=1)
    # -- latencies, cycles
    tlbi_local_cycles: float = Field(ge=0)
    """A local TLBI + DSB NSH on the issuing core."""
    dvm_op_cycles: float = Field(ge=0)
    """One broadcast TLBI's DVM operation, idle machine, one socket: the issuer's wait."""
    dvm_sync_cycles: float = Field(ge=0)
    """The DVM Sync of the DSB that completes broadcasts: how long it holds the DVM node (and
    its issuer, on an idle machine, one socket)."""
    dvm_receive_cycles: float = Field(ge=0)
    """Cycles each receiving core loses to one incoming DVM message (operation or Sync)."""
    dvm_socket_factor: float = Field(ge=0)
    """A broadcast spanning ``s`` sockets takes ``1 + dvm_socket_factor·(s - 1)`` times as long."""
    dvm_scope: Literal["system", "socket", "filtered"]
    """Which cores a broadcast reaches: every core, the issuer's socket, or (snoop filter) the
    cores that ran the issuing VMID (TLB maintenance only)."""
    walk_2stage_cycles: float = Field(ge=0)
    """A TLB refill after a miss with both stages enabled (up to 24 memory accesses)."""
    icache_line_refill_cycles: float = Field(ge=0)
    """Refilling one I-cache line after IC IALLU (from L2/LLC)."""
    ic_iallu_cycles: float = Field(ge=0)
    """A local IC IALLU + DSB + ISB (IS forms cost as an IS TLBI)."""
    bp_retrain_cycles: float = Field(ge=0)
    """Mispredictions to retrain the branch predictor after BPIALL (whole predictor)."""
    bp_visible: StrictBool
    """The cores' branch predictors are architecturally visible: stale predictions must be
    maintained away, BPIALL does work and ICIALLU / IC IALLU also flush them. False: BPIALL
    executes as a NOP and no stale prediction can be seen (arch.ops.BpReading)."""
    bpiall_fb_upgrade: StrictBool
    """HCR_EL2.FB makes an EL1 BPIALL act as BPIALLIS (the HCR_EL2.FB field text); false: the
    BPIALL pseudocode's reading, which upgrades it only under an AArch32 EL2."""
    trap_roundtrip_cycles: float = Field(ge=0)
    """EL1 → EL2 → EL1 round trip for a trapped instruction (hypercall-like)."""
    vcpu_switch_cycles: float = Field(ge=0)
    """Switching the vCPU a pCPU runs (save/restore of EL1 state, world switch)."""

    provenance: dict[str, Provenance] = Field(default_factory=dict)
    """Per figure name: its source or assumption."""
    path: str = ""

    # ---- derived figures -------------------------------------------------------------------
    def is_sockets(self, pcpus: int) -> int:
        """Sockets an IS domain of ``pcpus`` cores spans (cores fill sockets in order)."""
        per = -(-self.cores // self.sockets)
        return max(1, min(self.sockets, -(-pcpus // per)))

    def cores_per_socket(self) -> int:
        """Cores of one socket (cores fill sockets in order)."""
        return -(-self.cores // self.sockets)

    def socket_of(self, pcpu: int) -> int:
        """The socket pCPU ``pcpu`` sits on (cores fill sockets in order)."""
        return min(self.sockets - 1, pcpu // self.cores_per_socket())

    def tlb_reach_entries(self) -> int:
        """Entries a vCPU's working set can occupy (the L2 TLB holds the L1 contents)."""
        return self.l2_tlb_entries

    def icache_lines(self) -> int:
        """Lines in the I-cache."""
        return self.icache_kib * 1024 // self.icache_line_bytes

    @property
    def bp(self) -> BpReading:
        """The platform's predictor reading, what the checker uses for its safety column."""
        return BpReading(self.bp_visible, self.bpiall_fb_upgrade).normalised()

    def assumed_figures(self) -> list[str]:
        """Names of the figures that carry an assumption rather than a source."""
        return [k for k, p in self.provenance.items() if p.assumed]


FIGURES: tuple[str, ...] = tuple(
    n for n in Platform.model_fields if n not in ("name", "description", "provenance", "path")
)
"""Every figure a profile must give (with a source or an assumption)."""


def platform_from_dict(data: dict[str, Any], where: str) -> Platform:
    """Build a Platform from a profile's TOML data; PlatformError names ``where`` and the field."""
    values: dict[str, Any] = {}
    prov: dict[str, Provenance] = {}
    for key, raw in data.items():
        if key in ("name", "description"):
            values[key] = raw
            continue
        if key not in FIGURES:
            raise PlatformError(
                f"{where}: {key}: unknown figure (expected one of {', '.join(FIGURES)})"
            )
        if not isinstance(raw, dict) or "value" not in raw:
            raise PlatformError(
                f'{where}: {key}: expected {{ value = ..., source = "..." }} or {{ value = ..., assumption = "..." }}'
            )
        rest = {k: v for k, v in raw.items() if k != "value"}
        try:
            prov[key] = Provenance.model_validate(rest)
        except ValidationError as exc:
            msg = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
            raise PlatformError(f"{where}: {key}: {msg}") from None
        values[key] = raw["value"]
    values["provenance"] = prov
    values["path"] = where
    try:
        return Platform.model_validate(values)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        msg = "required figure is missing" if err["type"] == "missing" else err["msg"]
        raise PlatformError(f"{where}: {field}: {msg}") from None


def platform_names() -> list[str]:
    """The profiles on the search path (the user's directories, then the shipped ones), by
    name (file stem), sorted."""
    return datafiles.names(datafiles.PROFILES)


_CACHE: dict[str, Platform] = {}


def forget_profiles() -> None:
    """Drop the loaded profiles (after ``vtlbsim calibrate`` rewrote some)."""
    _CACHE.clear()


def load_platform(name_or_path: str, base_dir: str = "") -> Platform:
    """A platform by profile name (``profiles/NAME.toml``) or by path to a TOML file."""
    key = f"{base_dir}\0{name_or_path}"
    if key in _CACHE:
        return _CACHE[key]
    named = datafiles.find(datafiles.PROFILES, name_or_path)
    candidates = [named] if named is not None else []
    if name_or_path.endswith(".toml") or "/" in name_or_path:
        p = Path(name_or_path)
        candidates = [p] if p.is_absolute() else [Path(base_dir) / p, p]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        known = ", ".join(platform_names())
        raise PlatformError(
            f"unknown platform {name_or_path!r} (expected one of: {known}, or a path to a .toml)"
        )
    text = tomlfile.read(path, "platform profile", PlatformError)
    data = tomlfile.loads(text, str(path), PlatformError)
    plat = platform_from_dict(data, str(path))
    _CACHE[key] = plat
    return plat
