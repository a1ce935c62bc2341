"""From a census to guest rates (SPEC §3 rate fields), per process and per running vCPU-second.

Which census counts measure which rate (workload phase; an *event* is what makes a kind's
discipline issue its instructions once, so each rate counts executions of the discipline's
instruction):

- ``pte_changes``: TLB invalidations by VA (AArch64 ``VAE1``/``VALE1``/``VAAE1``/``VAALE1`` and
  range forms, any shareability; AArch32 ``TLBIMVA``/``TLBIMVAA``/``TLBIMVAL``... incl. IS).
  With KPTI (arm64), each user flush is two instructions (``__tlbi_user``), counted as two.
- ``asid_flushes``: ``ASIDE1``(IS), ``TLBIASID``(IS); on AArch32 also ``TLBIALLIS``, which
  ``flush_tlb_mm`` issues instead of ``TLBIASIDIS`` under ARM_ERRATA_720789 (Debian armmp).
- ``asid_rollovers``: the local full flush each CPU runs at its next switch after an ASID
  rollover: ``VMALLE1`` (arm64) / ``TLBIALL`` (arm32) at sites in ``check_and_switch_context``
  (needs symbols; without them the rate is not measured).
- ``code_changes`` (code written, then made fetchable: JITs, ``cacheflush``): arm64 ``IC IVAU``
  executed at EL0 (one per line); arm32 the one ``BPIALL(IS)`` that ends each
  ``v7_coherent_user_range`` (with ``ICIMVAU`` per line), rollover and switch paths excluded.
- ``exec_maps`` (an executable page mapped; the discipline's ``map_exec``): arm32 ``ICIALLU(IS)``
  (``__sync_icache_dcache`` invalidates the whole I-cache on each executable PTE) except the
  Spectre-v2 hardening in ``cpu_v7_*_switch_mm`` (one ``ICIALLU`` per address-space switch on
  Cortex-A15-like cores, reported apart as ``switch_hardening``); arm64 the kernel's ``IC IVAU``
  lines / 64 (4 KiB pages of 64-byte lines).
  These two and ``asid_rollovers`` need the sites' symbols (the default).
- ``context_switches``: address-space (TTBR) switches: AArch32 ``CONTEXTIDR`` writes (one per
  ``cpu_v7_switch_mm``); arm64 ``TTBR0_EL1`` writes at ``cpu_do_switch_mm`` (with symbols), else
  half the ``TTBR0_EL1`` writes (``check_and_switch_context`` writes the reserved TTBR0 first).

A running vCPU-second is 10^9 guest instructions (the census clock, boot.py: idle time is
skipped, so a phase's running vCPU-seconds are its instructions / 10^9): the rate of a guest
that does nothing but the workload on a 1 GIPS vCPU. ``per_process`` divides by the processes the phase
created. Working sets and sharing are not measured: a generated profile keeps the built-in
kind's figures for them.
"""

from __future__ import annotations

import re
from typing import Any

from .. import datafiles
from ..guest.kinds import load_kind_file
from ..guest.rates import DISCIPLINE_RATES, RATE_FIELDS, load_rates

KIND_OF_KERNEL = {
    "debian-arm64": "linux-arm64-smp",
    "debian-armmp": "linux-arm32-smp",
    "armhf-up": "linux-arm32-up",
}
"""The built-in guest kind each census kernel is an instance of."""

_TLB_VA = re.compile(r"^(r?va(a)?l?e1(is|os)?(nxs)?|[di]?tlbimva(a)?l?(is)?)$")
_ASID = re.compile(r"^(aside1(is|os)?(nxs)?|[di]?tlbiasid(is)?)$")
_MAINT = re.compile(
    r"^(.*e[123](is|os)?(nxs)?|[di]?tlbi.*|ic.*|iall.*|ivau|bp.*|dc.*|at .*|ats.*|cfp rctx|dvp rctx|cpp rctx)$"
)
A64_LINES_PER_PAGE = 64
"""4 KiB / 64-byte I-cache lines (CTR_EL0.IminLine of QEMU's Cortex-A57)."""
USER_TOP = 1 << 48
SWITCH_HARDENING = ("cpu_v7_iciallu_switch_mm", "cpu_v7_bpiall_switch_mm")
"""arch/arm/mm/proc-v7.S: the Spectre-v2 context-switch hardening (HARDEN_BRANCH_PREDICTOR)."""


def is_maintenance(name: str) -> bool:
    """A TLB, I-cache, branch-predictor, data-cache or address-translation instruction."""
    return bool(_MAINT.match(name)) and not name.startswith(("msr ", "mcr"))


def _user(address: str) -> bool:
    return int(address, 16) < USER_TOP


def _symbol_is(sym: str | None, functions: tuple[str, ...]) -> bool:
    return sym is not None and sym.split("+", 1)[0] in functions


def measured_events(result: dict[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    """(rate field -> events in the workload phase, rate field -> how it was counted); fields
    the census cannot measure from this result are absent."""
    w = result["phases"]["workload"]
    counts: dict[str, int] = w["counts"]
    sites: list[dict[str, Any]] = w["sites"]
    have_symbols = any(s.get("symbol") for s in sites)
    a64 = result["kernel"] == "debian-arm64"
    ev: dict[str, float] = {}
    how: dict[str, str] = {}

    def total(pred: re.Pattern[str]) -> tuple[int, str]:
        hit = {k: v for k, v in counts.items() if pred.match(k)}
        return sum(hit.values()), " + ".join(f"{v} {k}" for k, v in sorted(hit.items())) or "0"

    ev["pte_changes_per_s"], how["pte_changes_per_s"] = total(_TLB_VA)
    n, text = total(_ASID)
    if not a64 and counts.get("tlbiallis"):
        extra = f"{counts['tlbiallis']} tlbiallis (flush_tlb_mm, ARM_ERRATA_720789)"
        text = extra if n == 0 else f"{text} + {extra}"
        n += counts["tlbiallis"]
    ev["asid_flushes_per_s"], how["asid_flushes_per_s"] = n, text
    if have_symbols:
        flush = "vmalle1" if a64 else "tlbiall"
        n = sum(
            s["count"]
            for s in sites
            if s["name"] == flush and _symbol_is(s["symbol"], ("check_and_switch_context",))
        )
        ev["asid_rollovers_per_s"] = n
        how["asid_rollovers_per_s"] = f"{n} {flush} in check_and_switch_context"
    if a64:
        if have_symbols:
            user = sum(s["count"] for s in sites if s["name"] == "ivau" and _user(s["address"]))
            kernel = counts.get("ivau", 0) - user
            ev["code_changes_per_s"], how["code_changes_per_s"] = user, f"{user} ivau at EL0"
            ev["exec_maps_per_s"] = kernel / A64_LINES_PER_PAGE
            how["exec_maps_per_s"] = (
                f"{kernel} ivau in the kernel / {A64_LINES_PER_PAGE} (64-byte lines per 4 KiB page)"
            )
            n = sum(
                s["count"]
                for s in sites
                if s["name"] == "msr ttbr0_el1" and _symbol_is(s["symbol"], ("cpu_do_switch_mm",))
            )
            how["context_switches_per_s"] = f"{n} msr ttbr0_el1 in cpu_do_switch_mm"
        else:
            n = counts.get("msr ttbr0_el1", 0) // 2
            how["context_switches_per_s"] = f"{counts.get('msr ttbr0_el1', 0)} msr ttbr0_el1 / 2"
        ev["context_switches_per_s"] = n
    else:
        if have_symbols:

            def at(names: tuple[str, ...], functions: tuple[str, ...], inside: bool) -> int:
                return sum(
                    s["count"]
                    for s in sites
                    if s["name"] in names and _symbol_is(s["symbol"], functions) is inside
                )

            # v7_coherent_user_range (cacheflush, flush_icache_range) ends with one BPIALL(IS)
            bp = at(("bpiall", "bpiallis"), (*SWITCH_HARDENING, "check_and_switch_context"), False)
            ev["code_changes_per_s"] = bp
            how["code_changes_per_s"] = (
                f"{bp} bpiall(is) outside the switch/rollover paths (one per I-cache sync of "
                f"written code; {counts.get('icimvau', 0)} icimvau lines with them)"
            )
            whole = at(("icialluis", "iciallu"), SWITCH_HARDENING, False)
            ev["exec_maps_per_s"] = whole
            how["exec_maps_per_s"] = (
                f"{whole} iciallu(is) outside cpu_v7_*_switch_mm (__sync_icache_dcache: one per "
                "executable mapping)"
            )
            hardening = at(("iciallu", "bpiall"), SWITCH_HARDENING, True)
            if hardening:
                how["switch_hardening"] = f"{hardening} iciallu/bpiall in cpu_v7_*_switch_mm"
        n = counts.get("mcr contextidr", 0)
        ev["context_switches_per_s"], how["context_switches_per_s"] = n, f"{n} mcr contextidr"
    return ev, how


def measured_rates(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Rate field -> {events, per_process, per_running_s, counted}: the census's own figures."""
    w = result["phases"]["workload"]
    ev, how = measured_events(result)
    out = {}
    for key, n in ev.items():
        out[key] = {
            "events": n,
            "per_process": n / w["processes"] if w["processes"] else None,
            "per_running_s": n / w["running_seconds"] if w["running_seconds"] else None,
            "counted": how[key],
        }
    return out


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (tuple, list)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(float(f"{v:.6g}"))
    return str(v)


def profile_toml(result: dict[str, Any]) -> str:
    """A user guest kind (name, arch, [discipline], [rates]) with the census's rates per running
    vCPU-second where measured (``source = "measured: vtlbsim census ..."``) and the built-in
    kind's other figures; loadable with ``kind = "PATH"`` in a workload."""
    kind = KIND_OF_KERNEL[result["kernel"]]
    shipped = str(datafiles.package_dir(datafiles.GUESTS) / f"{kind}.toml")
    base = load_rates(shipped)
    discipline = load_kind_file(shipped)[1]["discipline"]
    w = result["phases"]["workload"]
    name = f"measured-{result['kernel']}-{result['cpu']}-{result['workload']}"
    lines = [
        f"# Guest kind measured by: {result['command']}",
        f"# {result['kernel_package']}; {result['qemu']}",
        f"# workload phase: {w['processes']} processes, {w['running_seconds']:.4g} running vCPU-s "
        f"({w['instructions']:,} guest instructions); clock: {result['clock']}",
        f"# discipline and unmeasured figures: the built-in kind {kind}",
        f"name = {_toml_value(name)}",
        f"arch = {_toml_value(base.arch.value)}",
        f"description = {_toml_value(kind + ' as measured: ' + result['kernel'] + ' running ' + result['workload'])}",
        "",
        "[discipline]",
    ]
    for key, entry in discipline.items():
        lines.append(
            f"{key} = {{ value = {_toml_value(entry['value'])}, source = {_toml_value(entry['source'])} }}"
        )
    lines += ["", "[rates]"]
    measured = measured_rates(result)
    used = [r for r, (k, _) in DISCIPLINE_RATES.items() if getattr(base.discipline, k)]
    for key in [*RATE_FIELDS, *used]:
        m = measured.get(key)
        if m is not None and m["per_running_s"] is not None:
            per_p = "" if m["per_process"] is None else f", {m['per_process']:.4g} per process"
            src = (
                f"measured: {result['command']}: {m['counted']} in {w['running_seconds']:.4g} running "
                f"vCPU-s{per_p}"
            )
            lines.append(
                f"{key} = {{ value = {_toml_value(m['per_running_s'])}, source = {_toml_value(src)} }}"
            )
        else:
            how, text = base.provenance[key]
            value = getattr(base, key)
            lines.append(
                f"{key} = {{ value = {_toml_value(float(value))}, {how} = {_toml_value(text)} }}"
            )
    return "\n".join(lines) + "\n"
