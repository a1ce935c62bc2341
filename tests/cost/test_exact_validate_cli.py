"""`vtlbsim validate`: bad options exit 2 with one line; a small workload file is cross-validated."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtlbsim.cli.common import app

WORKLOAD = """platform = "cortex-a57-juno"
duration_s = 0.2
[scheduler]
kind = "pinned"
[[domains]]
kind = "linux-arm32-up"
count = 2
vcpus = 1
"""


def test_bad_sample_and_config_exit_2() -> None:
    r = CliRunner().invoke(app, ["validate", "--sample", "2"])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1 and "--sample" in r.stderr
    r = CliRunner().invoke(app, ["validate", "--config", "nope"])
    assert r.exit_code == 2 and "--config" in r.stderr and "pinned-up-fb" in r.stderr


def test_bad_workload_file_exit_2(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    bad = WORKLOAD.replace("duration_s = 0.2", "duration_s = -1")
    assert bad != WORKLOAD
    f.write_text(bad)
    r = CliRunner().invoke(app, ["validate", str(f)])
    assert r.exit_code == 2 and str(f) in r.stderr and "duration_s" in r.stderr


def test_workload_file_json(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD)
    r = CliRunner().invoke(app, ["validate", str(f), "--policy", "fb", "--pcpus", "2", "--json"])
    out = json.loads(r.stdout)
    assert {row["policy"] for row in out["rows"]} == {"fb"}
    # A workload file claims the event-driven causes only (cost/validate.py EVENT_CAUSES): for
    # pinned UP guests under fb that is the broadcasts their upgraded local TLBIs, IC IALLU and
    # BPIALL make, counted the same way by both modes over 0.2 s -- agreement is expected.
    assert r.exit_code == 0 and out["ok"] is True, r.stdout
    claimed = {row["cause"] for row in out["rows"] if row["claimed"]}
    assert claimed == {"broadcast-issue", "dvm-others", "hyp-flush", "trap"}
    fb = {row["cause"]: row for row in out["rows"]}
    assert fb["broadcast-issue"]["exact"] > 0 and fb["broadcast-issue"]["analytic"] > 0


def test_trace_option(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD)
    r = CliRunner().invoke(app, ["validate", str(f), "--trace", "linux-arm32-up"])
    assert r.exit_code == 2 and "KIND=FILE" in r.stderr
    bad = tmp_path / "bad.npz"
    bad.write_text("junk")
    r = CliRunner().invoke(app, ["validate", str(f), "--trace", f"linux-arm32-up={bad}"])
    assert r.exit_code == 2 and str(bad) in r.stderr and r.stderr.count("\n") == 1
    gz = Path(__file__).resolve().parents[2] / "traces" / "gzip.npz"
    r = CliRunner().invoke(
        app,
        ["validate", str(f), "--policy", "fb", "--pcpus", "2", "--trace", f"linux-arm32-up={gz}"],
    )
    assert r.exit_code == 0, r.stdout  # the claimed causes are event counts: the trace only
    assert "broadcast-issue" in r.stdout  # changes refills, which a workload file does not claim


def test_a_claimed_comparison_out_of_tolerance_exits_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exit code follows the claims: with a tolerance no comparison can meet (negative),
    every claimed comparison fails, ``ok`` is false and the exit code 1."""
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD)
    monkeypatch.setattr("vtlbsim.cost.validate.TOLERANCE", -1.0)
    r = CliRunner().invoke(app, ["validate", str(f), "--policy", "fb", "--pcpus", "2", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 1 and out["ok"] is False
    assert {row["cause"] for row in out["rows"] if not row["ok"]} == {
        "broadcast-issue",
        "dvm-others",
        "hyp-flush",
        "trap",
    }
