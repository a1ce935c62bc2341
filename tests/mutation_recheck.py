"""Recheck mutmut's mutants one pytest process each: ``python tests/mutation_recheck.py
[--status suspicious,survived] [GLOB ...] -- PYTEST_ARGS...``.

mutmut runs each mutant's tests in a process forked from one that has already run the suite;
on this project some of those children end by SIGTERM after a second or two (mutmut reports
them as "suspicious", exit -15: neither killed nor survived) although the same tests pass or
fail normally in a fresh process. This script runs, for each mutant of ``mutmut results --all
true`` with one of the given statuses (and matching a GLOB, if any), ``pytest -x PYTEST_ARGS``
in ``mutants/`` with ``MUTANT_UNDER_TEST`` set, and prints one line per mutant (killed: a test
failed; survived: every test passed) and the totals. It does not write mutmut's results.
"""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys

from mutation_rates import LINE, mutmut_results


def main(argv: list[str]) -> int:
    if "--" not in argv:
        print(__doc__, file=sys.stderr)
        return 2
    split = argv.index("--")
    ours, pytest_args = argv[:split], argv[split + 1 :]
    statuses = {"suspicious", "survived"}
    globs: list[str] = []
    i = 0
    while i < len(ours):
        if ours[i] == "--status":
            statuses = set(ours[i + 1].split(","))
            i += 2
        else:
            globs.append(ours[i])
            i += 1
    out = mutmut_results()
    names = []
    for line in out.splitlines():
        m = LINE.match(line)
        if m and m.group(4).strip() in statuses:
            if not globs or any(fnmatch.fnmatch(m.group(1), g) for g in globs):
                names.append(m.group(1))
    killed = survived = 0
    for name in names:
        # the mutated copy (mutants/src) before the editable install's src/
        path = os.pathsep.join(x for x in ("src", os.environ.get("PYTHONPATH", "")) if x)
        env = dict(os.environ, MUTANT_UNDER_TEST=name, PYTHONPATH=path)
        rc = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *pytest_args],
            cwd="mutants",
            env=env,
            capture_output=True,
        ).returncode
        verdict = "killed" if rc == 1 else "survived" if rc == 0 else f"exit {rc}"
        killed += rc == 1
        survived += rc == 0
        print(f"{name}: {verdict}", flush=True)
    print(f"rechecked {len(names)}: killed {killed}, survived {survived}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
