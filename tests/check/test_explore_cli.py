"""`vtlbsim check` through the command line: exit codes, the litmus file it writes, JSON."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

CliRun = Callable[[list[str]], tuple[int, str, str]]


def test_unsafe_writes_a_litmus_file_that_vtlbsim_litmus_replays(
    cli: CliRun, tmp_path: Path
) -> None:
    out = tmp_path / "ce.toml"
    code, stdout, err = cli(
        [
            "check",
            "--guest",
            "linux-arm32-up",
            "--policy",
            "none",
            "--depth",
            "7",
            "--out",
            str(out),
        ]
    )
    assert code == 1, err
    assert "unsafe" in stdout and "run g.0 on 0" in stdout
    assert out.read_text() in stdout  # the printed counterexample is the file
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "litmus", str(out), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr  # the file says expect = "violation"
    obj = json.loads(res.stdout)
    assert obj["outcome"] == "violation" and obj["guest_errors"] == []


def test_safe_exits_zero_with_the_state_count(cli: CliRun) -> None:
    code, stdout, err = cli(
        ["check", "--guest", "linux-arm32-up", "--policy", "fb", "--depth", "5"]
    )
    assert code == 0, err
    assert "safe up to depth 5 (" in stdout and " states)" in stdout


def test_json(cli: CliRun) -> None:
    code, stdout, _ = cli(["check", "-g", "percpu-tables", "-p", "fb", "--depth", "7", "--json"])
    assert code == 1
    obj = json.loads(stdout)
    assert obj["safe"] is False and obj["violation"]["category"] == "cross-vcpu-tlb"
    assert obj["litmus"].startswith('title = "check: percpu-tables under fb"')
    assert len(obj["actions"]) == 5


def test_matrix_json_small_depth(cli: CliRun) -> None:
    """Every kind x every registered policy; at depth 3 nothing can go wrong yet (the shortest
    counterexample of any kind has 7 actions)."""
    from vtlbsim.guest.kinds import KIND_NAMES
    from vtlbsim.hyp.registry import all_policies

    code, stdout, err = cli(["check", "--matrix", "--depth", "3", "--json"])
    assert code == 0, err
    rows = json.loads(stdout)
    assert {(r["kind"], r["policy"]) for r in rows} == {
        (k, p) for k in KIND_NAMES for p in all_policies()
    }
    assert all(r["safe"] for r in rows)


def test_matrix_table(cli: CliRun) -> None:
    code, stdout, _ = cli(["check", "--matrix", "--depth", "2", "--pcpus", "1", "--vcpus", "1"])
    assert code == 0
    assert "percpu-tables" in stdout and "gunyah" in stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--guest", "nope", "--policy", "fb"], "--guest"),
        (["--guest", "percpu-tables", "--policy", "nope"], "--policy"),
        (["--guest", "percpu-tables"], "--policy"),
        (["--guest", "percpu-tables", "--policy", "fb", "--pcpus", "0"], "--pcpus"),
        (["--guest", "percpu-tables", "--policy", "fb", "--vcpus", "9"], "--vcpus"),
        (["--guest", "percpu-tables", "--policy", "fb", "--depth", "-1"], "--depth"),
        (["--matrix", "--guest", "nope"], "--guest"),
        (["--matrix", "--policy", "nope"], "--policy"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli: CliRun, args: list[str], needle: str) -> None:
    code, _, err = cli(["check", *args])
    assert code == 2
    assert err.count("\n") == 1 and needle in err and "Traceback" not in err


def test_unwritable_out_is_exit_2(cli: CliRun, tmp_path: Path) -> None:
    bad = tmp_path / "no" / "such" / "dir" / "ce.toml"
    code, _, err = cli(
        ["check", "-g", "linux-arm32-up", "-p", "none", "--depth", "7", "--out", str(bad)]
    )
    assert code == 2 and "--out" in err and err.count("\n") == 1
