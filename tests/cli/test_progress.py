"""The shared progress facility (cli/progress.py): plain lines with a rate and an ETA when not
on a terminal, a rich bar on one, and Ctrl-C turned into one line and exit code 130."""

from __future__ import annotations

import signal
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
import typer

from vtlbsim.cli import progress
from vtlbsim.cli.progress import Meter
from vtlbsim.study.store import Store


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(progress.time, "monotonic", c)
    return c


def test_plain_lines_every_two_seconds_with_rate_and_eta(clock: Clock) -> None:
    out = StringIO()
    with Meter("check --matrix", total=10, unit="pairs", stream=out, fancy=False) as m:
        clock.now += 0.5
        m.advance()  # 0.5 s in: too early for a line
        assert out.getvalue() == ""
        clock.now += 2.0
        m.advance()  # 2 pairs in 2.5 s: 0.8 pairs/s, 8 left -> 10 s
        clock.now += 2.5
        m.advance(3)  # 5 pairs in 5 s: 1 pair/s, 5 left -> 5 s
        clock.now += 5.0
        m.update(10)
    lines = out.getvalue().splitlines()
    assert lines == [
        "vtlbsim: check --matrix: 2/10 pairs (20%), 0.8 pairs/s, eta 10 s",
        "vtlbsim: check --matrix: 5/10 pairs (50%), 1 pairs/s, eta 5 s",
        "vtlbsim: check --matrix: 10/10 pairs (100%), 1 pairs/s, eta 0 s",
    ]


def test_unknown_total_says_elapsed_time(clock: Clock) -> None:
    out = StringIO()
    with Meter("check", total=None, unit="states", stream=out, fancy=False) as m:
        clock.now += 150.0
        m.update(30_000)
    assert out.getvalue().splitlines()[0] == (
        "vtlbsim: check: 30,000 states, 200 states/s, 2 min elapsed"
    )


def test_short_work_prints_nothing(clock: Clock) -> None:
    out = StringIO()
    with Meter("run", total=3, unit="points", stream=out, fancy=False) as m:
        m.advance(3)
    assert out.getvalue() == ""


def test_rich_bar_shows_count_and_rate() -> None:
    out = StringIO()
    with Meter("study", total=4, unit="points", stream=out, fancy=True) as m:
        m.advance(4)
    text = out.getvalue()
    assert "4/4" in text and "points/s" in text and "study" in text


def test_ctrl_c_prints_what_was_kept_and_exits_130(
    clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(typer.Exit) as info:
        with Meter("check --matrix", total=10, unit="pairs", stream=StringIO(), fancy=False) as m:
            m.kept = lambda: f"{m.done:.0f} of 10 verdicts are in the cache"
            m.advance(3)
            raise KeyboardInterrupt
    assert info.value.exit_code == 130
    err = capsys.readouterr().err
    assert err == "vtlbsim: interrupted: 3 of 10 verdicts are in the cache\n"


def test_other_errors_pass_through(clock: Clock) -> None:
    with pytest.raises(ValueError, match="boom"):
        with Meter("x", total=1, unit="u", stream=StringIO(), fancy=False):
            raise ValueError("boom")


def test_ctrl_c_during_a_query_is_one_line_and_exit_130(tmp_path: Path) -> None:
    """A real command: `vtlbsim query` on a query that runs for minutes shows its progress
    (plain lines: stderr is a pipe), and Ctrl-C (SIGINT) after the first one prints one line
    saying nothing was changed, exit code 130."""
    Store(tmp_path).close()
    sql = "SELECT sum(a.range * b.range) FROM range(100000000) a, range(1000000) b"
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtlbsim", "query", str(tmp_path), sql],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stderr is not None
        first = proc.stderr.readline()  # the first progress line: the query is running
        assert first.startswith("vtlbsim: query: ") and "%/s" in first, first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()  # never left running, whatever failed
        proc.wait()
    assert proc.returncode == 130, (out, err)
    lines = [ln for ln in err.splitlines() if not ln.startswith("vtlbsim: query: ")]
    assert lines == [
        "vtlbsim: interrupted: the query was stopped; the store is read-only, nothing changed"
    ]
