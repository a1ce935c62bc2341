"""`make run`: the flagship study (the shipped ``studies/seed.toml``) into ``out/seed/`` under the
current directory, then the report.

Resumable like every study: a second ``make run`` on the same code computes nothing and only
rebuilds the report. Prints the headline table and where the report is.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from . import datafiles

SPEC = datafiles.package_dir(datafiles.STUDIES) / "seed.toml"
OUT = Path("out") / "seed"


def main(argv: list[str] | None = None) -> int:
    """Run the flagship study and its report; exit 0, or 1/2 with one line on stderr."""
    from .cli.study_cmd import print_headline
    from .study.executors import ExecutorError
    from .study.report import ReportError, build_report
    from .study.run import StudyFailed, run_study
    from .study.spec import SpecError, load_spec
    from .study.store import StoreError

    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else OUT
    try:
        spec = load_spec(SPEC)
        run = run_study(spec, out, workers=os.cpu_count() or 1)
        if run.interrupted:
            print(
                f"vtlbsim: interrupted: {run.stored} of {run.total} points stored in {run.store}",
                file=sys.stderr,
            )
            return 130
        rep = build_report(out)
    except (SpecError, StoreError, ExecutorError, ReportError) as exc:
        print(f"vtlbsim: {exc}", file=sys.stderr)
        return 2
    except StudyFailed as exc:
        print(f"vtlbsim: {exc}", file=sys.stderr)
        return 2 if exc.bad_input else 1
    except KeyboardInterrupt:  # a second Ctrl-C: every committed batch is kept
        print("vtlbsim: interrupted", file=sys.stderr)
        return 130
    rel = _rel(out)
    print(f"{spec.title}")
    print(
        f"study {spec.name}: {run.total} points ({run.already} already stored, {run.computed} "
        f"computed) in {run.elapsed_s:.1f} s -> {_rel(run.store)}"
    )
    print()
    print_headline(rep)
    print()
    print(f"report: {_rel(rep.markdown)} and {_rel(rep.html)} (figures in {rel}/figures/)")
    print(
        f'query:  vtlbsim query {rel} "SELECT policy, avg(overhead_pct) FROM results GROUP BY ALL"'
    )
    return 0


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)


if __name__ == "__main__":
    sys.exit(main())
