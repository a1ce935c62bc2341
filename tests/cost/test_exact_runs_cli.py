"""Exact runs from the CLI (``vtlbsim run --mode exact``, ``vtlbsim validate``): an estimate
before they start, progress in simulated seconds, the same results whatever the number of
processes or threads, and Ctrl-C: what finished is printed, then one line saying what was
kept, exit 130, and nothing else on stderr (no traceback, no warning)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtlbsim.cli.common import app
from vtlbsim.cli.cost_runs import announce
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import Workload, load_workload
from vtlbsim.sim.fasttlbs import set_threads, threads
from vtlbsim.study.costs import CostTask

WORKLOAD = """platform = "cortex-a57-juno"
duration_s = DURATION
[scheduler]
kind = "random-migrate"
migrations_per_vcpu_s = 100
timeslice_ms = 1
[[domains]]
kind = "linux-arm32-up"
count = 8
vcpus = 1
"""


def _file(tmp_path: Path, duration: float) -> Path:
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD.replace("DURATION", str(duration)))
    return f


def test_one_process_or_two_give_the_same_table(tmp_path: Path) -> None:
    f = str(_file(tmp_path, 0.01))
    args = ["run", f, "--mode", "exact", "--policy", "fb", "--pcpus", "1,2", "--json"]
    one = CliRunner().invoke(app, [*args, "-j", "1"])
    two = CliRunner().invoke(app, [*args, "-j", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, one.stderr + two.stderr
    assert json.loads(one.stdout) == json.loads(two.stdout)
    assert [r["pcpus"] for r in json.loads(one.stdout)] == [1, 2]


def test_long_runs_are_announced_with_the_sample_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before it starts: what it simulates, about how long, and --sample when that is long.
    One 300-second run of 8 vCPUs on 2 pCPUs simulates 300 s + 20 ms of warm-up (20 slices
    of 1 ms) on 2 running vCPUs: 2 x 300.02 x 1e7 = 6.0e9 references."""
    wl = load_workload(_file(tmp_path, 300))
    announce([CostTask(wl, "fb", 2, "exact")], 0)
    line = capsys.readouterr().err
    assert line.startswith("vtlbsim: exact mode: 1 run, 300 simulated s (warm-up included)")
    assert "6e+09 references: about " in line and line.count("\n") == 1
    assert line.rstrip().endswith(
        "--sample 0.1 simulates a tenth of the duration (docs/exact.md, Sampling)"
    )
    announce([CostTask(wl, "fb", 2, "exact", sample=0.1)], 0)  # sampled: no hint
    assert "--sample" not in capsys.readouterr().err
    short = load_workload(_file(tmp_path, 0.01))
    announce([CostTask(short, "fb", 2, "exact")], 0)  # a few seconds: just runs
    assert capsys.readouterr().err == ""


def test_the_loops_threads_do_not_change_a_result() -> None:
    wl = Workload.model_validate(
        {
            "platform": "thunderx-cn8890-2s",
            "duration_s": 0.01,
            "scheduler": {"kind": "random-migrate", "migrations_per_vcpu_s": 300},
            "domains": [{"kind": "linux-arm64-smp", "count": 3, "vcpus": 4}],
        }
    )
    before = threads()
    try:
        got = []
        for n in (1, 2, 3):
            set_threads(n)
            got.append(evaluate_exact(wl, "kvm", 8, 0, None).to_json())
    finally:
        set_threads(before)
    assert got[0] == got[1] == got[2]
    assert got[0]["events"]["references"] > 0


def _interrupt(args: list[str]) -> tuple[int, str, str]:
    """Run ``vtlbsim ARGS`` in its own process group; once it prints progress, Ctrl-C it."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "vtlbsim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        if line.startswith(f"vtlbsim: {args[0]}") and "eta -" not in line:
            break  # a progress line with an ETA: the runs are under way
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, "".join(lines) + err


def test_ctrl_c_during_an_exact_run_keeps_what_finished(tmp_path: Path) -> None:
    f = str(_file(tmp_path, 0.5))
    code, out, err = _interrupt(["run", f, "--mode", "exact", "--all-policies", "-j", "2"])
    assert code == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("vtlbsim: interrupted: ") and "14 runs finished" in last, err
    assert "Traceback" not in err and "Warning" not in err, err
    if "(printed above)" in last:  # the runs that finished are printed
        assert "pCPUs: % of machine cycles" in out
    else:
        assert last.startswith("vtlbsim: interrupted: none of the 14 runs finished") and out == ""


def test_ctrl_c_during_validate_says_what_was_compared() -> None:
    code, out, err = _interrupt(["validate", "--config", "overcommit-rr", "-j", "2"])
    assert code == 130, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("vtlbsim: interrupted: ") and "of 4 comparisons finished" in last
    assert last.endswith("nothing is stored")
    assert "Traceback" not in err and "Warning" not in err, err
