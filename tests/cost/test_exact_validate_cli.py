"""`vtlbsim validate`: bad options exit 2 with one line; a small workload file is cross-validated."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from vtlbsim.cli.common import app

WORKLOAD = """platform = "cortex-a57-juno"
duration_s = 0.05
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
    f.write_text(WORKLOAD.replace("duration_s = 0.05", "duration_s = -1"))
    r = CliRunner().invoke(app, ["validate", str(f)])
    assert r.exit_code == 2 and str(f) in r.stderr and "duration_s" in r.stderr


def test_workload_file_json(tmp_path: Path) -> None:
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD)
    r = CliRunner().invoke(app, ["validate", str(f), "--policy", "fb", "--pcpus", "2", "--json"])
    out = json.loads(r.stdout)
    assert {row["policy"] for row in out["rows"]} == {"fb"}
    assert r.exit_code == (0 if out["ok"] else 1)
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
    assert r.exit_code in (0, 1) and "broadcast-issue" in r.stdout
