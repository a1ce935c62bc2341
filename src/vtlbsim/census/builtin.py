"""The built-in guest kinds' rates that cite the census: ``python -m vtlbsim.census.builtin``
prints what the shipped kind files should say, ``--write`` rewrites those ``[rates]`` entries.

Conversion (docs/census.md, "Rates"): a rate the census attributes to the life cycle of a
process (fork, exec, exit) is its per-process figure in the ``exec`` census of the kernel the
kind describes (one vCPU, shipped in ``data/census/results``) times the process-creation rate
the kind's profile already assumed (``PROCESSES_PER_S``). Rates with no event in that census
(an arm64 ASID rollover needs ~65,000 processes) keep their assumption.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

from .. import datafiles
from .rates import KIND_OF_KERNEL, measured_rates
from .summary import RESULTS

PROCESSES_PER_S: dict[str, tuple[float, str]] = {
    "linux-arm64-smp": (50.0, "the server kinds' assumed exec rate"),
    "linux-arm32-smp": (50.0, "the server kinds' assumed exec rate"),
    "linux-arm32-up": (5.0, "the UP appliance kind's assumed exec rate"),
}
"""New processes per running vCPU-second each kind assumes (its profile's existing assumption)."""

FIELDS = ("pte_changes_per_s", "asid_flushes_per_s", "asid_rollovers_per_s", "exec_maps_per_s")
"""The rates a process's life cycle drives (``exec_maps_per_s``: the executable mappings of a
fork + exec + exit, priced by the discipline's ``map_exec``)."""

HELD_BACK: dict[tuple[str, str], str] = {
    ("linux-arm32-up", "exec_maps_per_s"): (
        "the census gives 1521/s (304 ICIALLU per process x 5), at which the analytic model's "
        "I-cache refill cost on pinned-up-fb is 6.1x exact mode's (error 0.84; "
        "tests/cost/test_exact_mode.py allows 0.25): kept at its assumption until the cost "
        "model bounds refills by the time between invalidations"
    ),
}
"""(kind, rate) the census measures but the kind file does not take yet, and why."""

CPU_OF_KERNEL = {
    "debian-arm64": "cortex-a57",
    "debian-armmp": "cortex-a15",
    "armhf-up": "cortex-a15",
}


def result_path(kernel: str) -> Path:
    return RESULTS / f"{kernel}.{CPU_OF_KERNEL[kernel]}.exec.1vcpu.json"


def entries(results: Path = RESULTS) -> dict[str, dict[str, tuple[float, str]]]:
    """kind -> rate -> (value, source) for every rate a shipped census measures."""
    out: dict[str, dict[str, tuple[float, str]]] = {}
    for kernel, kind in KIND_OF_KERNEL.items():
        path = results / result_path(kernel).name
        if not path.is_file():
            continue
        result: dict[str, Any] = json.loads(path.read_text())
        per_s, why = PROCESSES_PER_S[kind]
        rel = f"src/vtlbsim/data/census/results/{path.name}"
        for key, m in measured_rates(result).items():
            if key not in FIELDS or not m["events"] or m["per_process"] is None:
                continue
            if (kind, key) in HELD_BACK:
                continue
            value = float(f"{m['per_process'] * per_s:.4g}")
            src = (
                f"measured: {result['command']}: {m['counted']} in "
                f"{result['phases']['workload']['processes']} new processes = "
                f"{m['per_process']:.4g} per process ({rel}); x {per_s:g} new processes per "
                f"vCPU-second (assumed: {why})"
            )
            out.setdefault(kind, {})[key] = (value, src)
    return out


def _line(key: str, value: float, source: str) -> str:
    text = source.replace("\\", "\\\\").replace('"', '\\"')
    return f'{key} = {{ value = {value!r}, source = "{text}" }}'


def rewrite(text: str, rates: dict[str, tuple[float, str]]) -> str:
    """``text`` (a kind file) with the ``[rates]`` lines of ``rates`` replaced."""
    out, in_rates = [], False
    for line in text.splitlines():
        if line.startswith("["):
            in_rates = line.strip() == "[rates]"
        m = re.match(r"(\w+)\s*=", line)
        if in_rates and m and m.group(1) in rates:
            out.append(_line(m.group(1), *rates[m.group(1)]))
        else:
            out.append(line)
    return "\n".join(out) + "\n"


def main() -> None:
    write = "--write" in sys.argv[1:]
    for kind, rates in entries().items():
        path = datafiles.package_dir(datafiles.GUESTS) / f"{kind}.toml"
        new = rewrite(path.read_text(encoding="utf-8"), rates)
        if write:
            path.write_text(new, encoding="utf-8")
        for key, (value, src) in rates.items():
            print(f"{kind}: {key} = {value:g}  ({src})")


if __name__ == "__main__":
    main()
