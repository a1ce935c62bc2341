"""Interruption: SIGKILL loses nothing that was committed and never corrupts the store; Ctrl-C
(SIGINT) stops cleanly with one line saying how many points are stored; a rerun completes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from study_helpers import VTLBSIM, dump

from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import Store

SLOW = {"VTLBSIM_FAKE_SLEEP": "0.04"}  # 96 points x 40 ms: ~4 s of work


def _start(spec: Path, out: Path, workers: int) -> subprocess.Popen[str]:
    """Start a study in its own process group (as a shell job: Ctrl-C reaches the group)."""
    return subprocess.Popen(
        [*VTLBSIM, "study", str(spec), "--out", str(out), "-j", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **SLOW},
        start_new_session=True,
    )


def _wait_for_rows(proc: subprocess.Popen[str], out: Path, timeout: float = 30.0) -> None:
    """Wait until the study has started writing (the WAL or the file grows past the schema)."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        wal = out / "results.duckdb.wal"
        if wal.exists() and wal.stat().st_size > 20_000:
            return
        if proc.poll() is not None:
            return
        time.sleep(0.05)


def _assert_group_gone(pgid: int, timeout: float = 15.0) -> None:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    raise AssertionError(f"processes of the killed study (group {pgid}) are still running")


@pytest.mark.parametrize("workers", [1, 2])
def test_sigkill_midway_then_rerun_gives_the_full_set_once(
    small_spec: Path, tmp_path: Path, workers: int
) -> None:
    out = tmp_path / "killed"
    proc = _start(small_spec, out, workers)
    _wait_for_rows(proc, out)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    _assert_group_gone(proc.pid)  # workers, fork server and resource tracker exit too
    with Store(out) as s:  # opens: not corrupt; the WAL's committed batches are replayed
        partial = s.count()
    assert 0 < partial < 96, partial
    again = run_study(load_spec(small_spec), out, workers=workers, fancy=False)
    assert again.already == partial and again.computed == 96 - partial
    cols, rows = dump(out)
    assert len(rows) == 96 and len({r[0] for r in rows}) == 96
    clean = tmp_path / "clean"
    run_study(load_spec(small_spec), clean, workers=1, fancy=False)
    assert dump(clean) == (cols, rows)


def test_ctrl_c_stops_cleanly_and_says_how_many_points_are_stored(
    small_spec: Path, tmp_path: Path
) -> None:
    out = tmp_path / "o"
    proc = _start(small_spec, out, 2)
    _wait_for_rows(proc, out)
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: workers get it too
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = err.strip().splitlines()
    m = re.search(r"interrupted: (\d+) of 96 points stored", lines[-1])
    assert m is not None, err
    assert "Traceback" not in err
    with Store(out, read_only=True) as s:
        assert s.count() == int(m.group(1))
    _assert_group_gone(proc.pid)


def test_a_failing_point_keeps_the_finished_ones(small_spec: Path, tmp_path: Path, sub) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    res = sub(
        "study", str(small_spec), "--out", str(out), "-j", "1", VTLBSIM_FAKE_FAIL_POLICY="trap-ttlb"
    )
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()[-1:]) == 1
    assert "fake failure for policy trap-ttlb" in res.stderr and "Traceback" not in res.stderr
    with Store(out, read_only=True) as s:
        assert 0 < s.count() < 96
    # the rerun without the failure completes
    res = sub("study", str(small_spec), "--out", str(out), "-j", "1")
    assert res.returncode == 0, res.stderr
    with Store(out, read_only=True) as s:
        _, n = s.query(
            "SELECT count(*) FROM results WHERE model_version = "
            "(SELECT value FROM vtlbsim_meta WHERE key = 'model_version')"
        )
    assert n == [(96,)]  # (other rows, if any, are from an older model version)
