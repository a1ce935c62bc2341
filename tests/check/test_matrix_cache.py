"""The matrix's verdict cache, progress and Ctrl-C: nothing computed is lost, nothing cached is
recomputed, and what is read back is what was computed."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import CliRun
from vtlbsim.check import matrix
from vtlbsim.check.matrix import VerdictCache, matrix_results
from vtlbsim.check.replay import replay
from vtlbsim.cli import check_progress
from vtlbsim.hyp.registry import resolve

KINDS = ["linux-arm32-up", "percpu-tables"]
POLICIES = ["none", "flush-on-arrival"]


def _summary(rs: list[matrix.CheckResult]) -> list[tuple[object, ...]]:
    return [(r.kind, r.policy, r.safe, r.states, r.actions, r.depth_reached) for r in rs]


def test_a_rerun_reads_every_pair_back_from_the_cache(tmp_path: Path) -> None:
    """Four pairs at depth 7: none is unsafe for both kinds (H1 in 7 actions for the UP
    kernel, H2 in 5 for per-CPU tables), flush-on-arrival safe for both (kvm is not safe for
    the UP kernel where FB leaves its BPIALL local, the default predictor reading). The
    second run checks nothing: every result comes from the cache, equal to the first, and
    each counterexample read back replays to a violation."""
    cache = VerdictCache(tmp_path)
    first = matrix_results(KINDS, POLICIES, depth=7, cache=cache)
    assert [r.safe for r in first] == [False, True, False, True]
    assert len(list(tmp_path.glob("*.json"))) == 4
    seen: list[int] = []
    again = matrix_results(
        KINDS, POLICIES, depth=7, cache=cache, progress=lambda r, d, t: seen.append(d)
    )
    assert seen == [1, 2, 3, 4] and all(r.from_cache for r in again)
    assert _summary(again) == _summary(first)
    for r in again:
        if r.counterexample is not None:
            out = replay(r.counterexample, resolve(r.counterexample.policy))
            assert out.outcome == "violation" and out.guest_errors == []
            assert r.violation is not None and out.violations[0].category == r.violation.category


def test_other_options_are_other_entries(tmp_path: Path) -> None:
    """The options are part of the fingerprint: depth 4 is checked, not read from depth 7."""
    cache = VerdictCache(tmp_path)
    matrix_results(KINDS[:1], POLICIES[:1], depth=7, cache=cache)
    r = matrix_results(KINDS[:1], POLICIES[:1], depth=4, cache=cache)[0]
    assert not r.from_cache and r.safe  # H1 needs 7 actions
    assert len(list(tmp_path.glob("*.json"))) == 2


def test_ctrl_c_keeps_the_pairs_already_done(
    cli: CliRun, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Interrupted at the third pair: one line says how many pairs are kept, exit 130, and the
    rerun checks only the rest."""
    monkeypatch.setenv("VTLBSIM_CACHE", str(tmp_path))
    real = matrix._check_pair
    calls: list[tuple[str, str]] = []
    interrupt = [True]

    def interrupted_third(kind: str, policy: str, opts: matrix.Options) -> matrix.CheckResult:
        calls.append((kind, policy))
        if len(calls) == 3 and interrupt[0]:
            interrupt[0] = False
            raise KeyboardInterrupt
        return real(kind, policy, opts)

    monkeypatch.setattr(matrix, "_check_pair", interrupted_third)
    args = ["check", "--matrix", "--guest", "percpu-tables", "--depth", "3", "--jobs", "1"]
    code, _, err = cli(args)
    assert code == 130
    # a loaded machine may also print the meter's periodic progress lines (cli/progress.py)
    lines = [ln for ln in err.splitlines() if not ln.startswith("vtlbsim: check --matrix: ")]
    assert len(lines) == 1 and "interrupted: 2 of" in lines[0] and str(tmp_path) in lines[0]
    assert len(list(tmp_path.glob("*.json"))) == 2
    calls.clear()
    code, _, err = cli(args)
    assert code == 0, err
    assert ("percpu-tables", "none") not in calls and len(calls) == len(set(calls))


def test_ctrl_c_during_one_check_says_what_was_proved(
    cli: CliRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vtlbsim.cli import check_cmd

    def interrupted(*args: object, **kw: object) -> None:
        progress = kw["progress"]
        progress(1, 4)  # type: ignore[operator]
        progress(2, 9)  # type: ignore[operator]
        raise KeyboardInterrupt

    monkeypatch.setattr(check_cmd, "run_check", interrupted)
    code, _, err = cli(["check", "--guest", "linux-arm32-up", "--policy", "fb"])
    assert code == 130 and err.count("\n") == 1
    assert "interrupted: at depth 3 (9 states)" in err and "within 2 actions" in err


def test_plain_progress_lines_off_a_terminal(cli: CliRun, monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout is not a terminal here: progress comes as plain lines on stderr (every line here,
    with the interval set to 0), and stdout holds only the result."""
    monkeypatch.setattr(check_progress, "PLAIN_EVERY_S", 0.0)
    code, out, err = cli(["check", "--guest", "linux-arm32-up", "--policy", "fb", "--depth", "5"])
    assert code == 0
    lines = err.splitlines()
    assert lines and all(x.startswith("vtlbsim: check: depth ") and "states/s" in x for x in lines)
    assert "depth 5/5" in lines[-1]
    assert "check: depth" not in out
