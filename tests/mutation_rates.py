"""The kill rate per package from mutmut's results: run by ``make mutation`` after ``mutmut run``.

Reads ``mutmut results --all true`` (in the project directory, where ``mutants/`` is) and prints,
for each mutated package of src/vtlbsim, the mutants checked, killed (a test failed, timed out
or crashed), survived (no test failed, or no test ran the mutated function) and the kill rate
= killed / checked. Mutants not checked yet (a partial run) are counted apart, as are the
mutants of ``IMPORT_TIME`` functions: mutmut activates a mutant when a function is *called*
in a test process forked after the package was imported, so a function that only runs while
the module is imported is never run mutated; those survivors say nothing about the tests.
``--survivors`` lists every surviving mutant (``mutmut show NAME`` prints its diff);
``--by-module`` counts per module (``check/oracle``) rather than per package.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter, defaultdict

LINE = re.compile(r"^\s*(vtlbsim\.(\w+)\.(\w+)\S*): (.+)$")
KILLED = {"killed", "timeout", "segfault", "caught by type check"}
UNCHECKED = {"not checked", "skipped", "check was interrupted by user"}
IMPORT_TIME = (
    # arch/ops.py builds the instruction table (ALL_OPS) once, at import
    "vtlbsim.arch.ops.x__tlbi__mutmut_",
    "vtlbsim.arch.ops.x__aarch64_tlbis__mutmut_",
    "vtlbsim.arch.ops.x__aarch32_tlbis__mutmut_",
    "vtlbsim.arch.ops.x__cache_ops__mutmut_",
    # cost/validate.py builds the cross-validation configurations (CONFIGS) once, at import
    "vtlbsim.cost.validate.x__wl__mutmut_",
)


def tally(
    results: str, by_module: bool = False
) -> tuple[dict[str, Counter[str]], dict[str, list[str]]]:
    """Per package (or per module): the count of each outcome, and the surviving mutants'
    names."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: dict[str, list[str]] = defaultdict(list)
    for line in results.splitlines():
        m = LINE.match(line)
        if m is None:
            continue
        name, package, status = m.group(1), m.group(2), m.group(4).strip()
        if by_module:
            # a function of the package's __init__.py has no module part: vtlbsim.cost.x_evaluate
            module = m.group(3)
            package += "/" + ("__init__" if module.startswith(("x_", "x\u01c1")) else module)
        if status in UNCHECKED:
            counts[package]["unchecked"] += 1
        elif name.startswith(IMPORT_TIME):
            counts[package]["import-time"] += 1
        elif status in KILLED:
            counts[package]["killed"] += 1
        else:
            counts[package]["survived"] += 1
            survivors[package].append(f"{name} ({status})")
    return counts, survivors


def mutmut_results() -> str:
    """``mutmut results --all true``: one line per mutant with its status."""
    return subprocess.run(
        [sys.executable, "-m", "mutmut", "results", "--all", "true"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def main(argv: list[str]) -> int:
    out = mutmut_results()
    counts, survivors = tally(out, "--by-module" in argv)
    if not counts:
        print("no mutants: run `mutmut run` first (make mutation does)", file=sys.stderr)
        return 1
    print(
        f"{'package':<18} {'checked':>8} {'killed':>7} {'survived':>9} {'kill rate':>10}"
        f" {'import-time':>12} {'unchecked':>10}"
    )
    for package in sorted(counts):
        c = counts[package]
        checked = c["killed"] + c["survived"]
        rate = f"{100.0 * c['killed'] / checked:.1f}%" if checked else "-"
        print(
            f"{package + '/':<18} {checked:>8} {c['killed']:>7} {c['survived']:>9} {rate:>10}"
            f" {c['import-time']:>12} {c['unchecked']:>10}"
        )
    if "--survivors" in argv:
        for package in sorted(survivors):
            print(f"\n{package}/ survivors:")
            for s in survivors[package]:
                print(f"  {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
