"""The tables of docs/census.md, from the census JSON files of a directory:
``python -m vtlbsim.census.summary [DIR]`` (default: the shipped results)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from .. import datafiles
from ..arch.ops import ALL_OPS, Arch, Scope
from .rates import measured_rates

RESULTS = datafiles.package_dir("census") / "results"
"""The shipped census results (scripts/census-results.sh)."""

_LOCAL = {(o.arch, o.name) for o in ALL_OPS if o.scope is Scope.LOCAL}


def load(directory: Path) -> list[dict[str, Any]]:
    """Every census JSON of ``directory``, in name order."""
    return [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]


def _arch(result: dict[str, Any]) -> Arch:
    return Arch.AARCH64 if result["kernel"] == "debian-arm64" else Arch.AARCH32


def guest_counts(result: dict[str, Any], phase: str = "workload") -> dict[str, int]:
    """What the guest (EL1 and EL0) executed in ``phase``: under a hypervisor, the phase's
    counts less the hypervisor's own (its EL2 sites)."""
    counts: dict[str, int] = result["phases"][phase]["counts"]
    if "hypervisor" not in result:
        return counts
    el2: dict[str, int] = result["hypervisor"]["phases"][phase]["el2_counts"]
    return {k: n - el2.get(k, 0) for k, n in counts.items() if n > el2.get(k, 0)}


def local_ops(result: dict[str, Any], phase: str = "workload") -> dict[str, int]:
    """The guest's local (non-broadcast) maintenance instructions executed in ``phase``: the
    ones HCR_EL2.FB upgrades or that stay local (arch/ops.py scopes)."""
    arch = _arch(result)
    counts = guest_counts(result, phase)
    return {k: n for k, n in sorted(counts.items()) if (arch, k) in _LOCAL and n}


def _where(result: dict[str, Any]) -> str:
    """The kernel, and the VM it ran as when under a hypervisor."""
    if "hypervisor" not in result:
        return str(result["kernel"])
    role = result["hypervisor"].get("guest_role", "dom0")
    return f"{result['kernel']} (Xen {role}, {result['pcpus']} pCPUs, {result['cpu']})"


def _guest_instructions(result: dict[str, Any], phase: str = "workload") -> int:
    ph = result["phases"][phase]
    if "hypervisor" not in result:
        return int(ph["instructions"])
    return sum(n for r, n in ph["instructions_by_range"].items() if r != "xen")


def _maint(result: dict[str, Any], phase: str) -> dict[str, int]:
    arch = _arch(result)
    counts = guest_counts(result, phase)
    return {
        k: n
        for k, n in sorted(counts.items(), key=lambda kv: -kv[1])
        if any(o.arch is arch and o.name == k for o in ALL_OPS) and n
    }


def _fmt(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v:,}" for k, v in d.items()) or "none"


def tables(results: list[dict[str, Any]]) -> str:
    out = []
    guests = [r for r in results if "hypervisor" not in r]
    out.append("### Guest maintenance in the workload phase\n")
    out.append(
        "| kernel | workload | vCPUs | guest instructions | processes | maintenance executed "
        "(vtlbsim's names) | of which local |"
    )
    out.append("|---|---|---:|---:|---:|---|---|")
    for r in [*guests, *(r for r in results if "hypervisor" in r)]:
        w = r["phases"]["workload"]
        out.append(
            f"| {_where(r)} | {r['workload']} ×{r['iterations']} | {r['vcpus']} | "
            f"{_guest_instructions(r):,} | {w['processes']} | {_fmt(_maint(r, 'workload'))} | "
            f"{_fmt(local_ops(r))} |"
        )
    out.append("\n### Boot phase (reset to the first marker), local maintenance\n")
    out.append("| kernel | vCPUs | instructions | local maintenance at boot |")
    out.append("|---|---:|---:|---|")
    for r in guests:
        if r["workload"] == "exec":
            b = r["phases"]["boot"]
            out.append(
                f"| {r['kernel']} | {r['vcpus']} | {b['instructions']:,} | "
                f"{_fmt(local_ops(r, 'boot'))} |"
            )
    out.append("\n### Rates measured (exec workload, 1 vCPU): per new process\n")
    out.append("| kernel | rate | events | per process | how counted |")
    out.append("|---|---|---:|---:|---|")
    for r in guests:
        if r["workload"] != "exec" or r["vcpus"] != 1:
            continue
        for key, m in measured_rates(r).items():
            per = "" if m["per_process"] is None else f"{m['per_process']:.3g}"
            out.append(f"| {r['kernel']} | {key} | {m['events']:,} | {per} | {m['counted']} |")
    for r in results:
        if "hypervisor" not in r:
            continue
        h = r["hypervisor"]
        out.append(
            f"\n### {h['package']}: {r['kernel']} as {h.get('guest_role', 'dom0')}, "
            f"{r['vcpus']} vCPUs on {r['pcpus']} pCPUs, "
            f"{r['workload']} ×{r['iterations']}\n"
        )
        out.append(
            "| phase | vCPU loads | by situation | TLBI on load, binary | TLBI on load, "
            "`xen` policy | agree | Xen's EL2 TLB/I-cache maintenance |"
        )
        out.append("|---|---:|---|---|---|---|---|")
        for name, ph in h["phases"].items():
            el2 = {
                k: v
                for k, v in ph["el2_counts"].items()
                if k.startswith(("vmall", "alle", "vae2", "vale2", "ipas2", "iall", "ivau"))
            }
            out.append(
                f"| {name} | {ph['loads']:,} | {_fmt(ph['loads_by_situation'])} | "
                f"{_fmt(ph['flushes_binary'])} | {_fmt(ph['flushes_policy'])} | "
                f"{'yes' if ph['agree'] else 'NO'} | {_fmt(el2)} |"
            )
        hcr = h["hcr_el2"]
        vals = ", ".join(f"{w['value']} ×{w['times']:,}" for w in hcr["written"])
        out.append(
            f"\nHCR_EL2 written at each load: {vals}; policy FB={hcr['policy']['fb']}, "
            f"BSU=IS {hcr['policy']['bsu_inner_shareable']}: "
            f"{'agree' if hcr['agree'] else 'DISAGREE'}."
        )
        g = guest_counts(r)
        calls = ", ".join(f"{k} {g[k]:,}" for k in ("hvc", "smc", "svc") if g.get(k))
        switches = measured_rates(r)["context_switches_per_s"]
        out.append(
            f"The guest's calls in the workload phase: {calls or 'none'}; its address-space "
            f"switches: {switches['counted']}."
        )
    return "\n".join(out) + "\n"


def main() -> None:
    directory = Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS
    print(tables(load(directory)), end="")


if __name__ == "__main__":
    main()
