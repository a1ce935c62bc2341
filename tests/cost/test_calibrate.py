"""`vtlbsim calibrate`: fits only calibrate runs, fits them within a factor of 2, and writes the
profiles it is pointed at."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from vtlbsim import datafiles
from vtlbsim.cli.common import app
from vtlbsim.cost.calibrate import SHARED, fit, free_parameters
from vtlbsim.cost.platform import forget_profiles
from vtlbsim.cost.published import load_record, record_dir


@pytest.fixture(scope="module")
def shipped_fit():  # type: ignore[no-untyped-def]
    return fit(load_record())


def test_every_calibrate_run_within_a_factor_of_2(shipped_fit) -> None:  # type: ignore[no-untyped-def]
    f = shipped_fit
    assert f.rows and all(r.role == "calibrate" for r in f.rows)
    assert f.worst < 2.0
    assert set(SHARED) <= set(f.values)


def test_calibration_never_reads_a_validate_run(tmp_path: Path, shipped_fit) -> None:  # type: ignore[no-untyped-def]
    """Multiply every measured value of every validate experiment by 10: the fitted
    parameters are bit-identical."""
    rec = tmp_path / "record"
    shutil.copytree(record_dir(), rec)
    changed = 0
    for p in rec.glob("*.toml"):
        text = p.read_text()
        if 'role = "validate"' not in text:
            continue
        text, n = re.subn(
            r"value = ([0-9.e+-]+)", lambda m: f"value = {float(m.group(1)) * 10:g}", text
        )
        changed += n
        p.write_text(text)
    assert changed > 0
    again = fit(load_record([rec]))
    assert again.values == shipped_fit.values


def test_scales_only_where_a_platform_measured_concurrent_broadcasters(shipped_fit) -> None:  # type: ignore[no-untyped-def]
    cal = [e for e in load_record() if e.role == "calibrate"]
    names = free_parameters(cal)
    assert names[: len(SHARED)] == list(SHARED)
    assert "scale:kunpeng920-2s" not in names  # the reference
    assert "scale:thunderx2-2s" not in names  # one issuer: its latency is not identified


def test_calibrate_writes_the_profiles_it_is_pointed_at(tmp_path: Path) -> None:
    """With --profiles DIR holding a copy of a profile, calibrate rewrites that copy (its DVM
    figures with 'calibrated:' provenance) and leaves every other line as it was."""
    forget_profiles()  # a profile an earlier test loaded by name would hide DIR's copy
    src = datafiles.package_dir(datafiles.PROFILES) / "kunpeng920-2s.toml"
    mine = tmp_path / "kunpeng920-2s.toml"
    text = src.read_text().replace("dvm_op_cycles = { value = ", "dvm_op_cycles = { value = 1", 1)
    mine.write_text(text)
    try:
        r = CliRunner().invoke(
            app, ["--profiles", str(tmp_path), "calibrate", "--platform", "kunpeng920-2s"]
        )
        assert r.exit_code == 0, r.stderr
        assert "evaluation" in r.stderr  # progress while fitting
        out = mine.read_text()
        assert out != text
        old = [ln for ln in text.splitlines() if not ln.startswith("dvm_")]
        assert [ln for ln in out.splitlines() if not ln.startswith("dvm_")] == old
        op = next(ln for ln in out.splitlines() if ln.startswith("dvm_op_cycles"))
        assert 'source = "calibrated: ' in op and "fit error" in op
        assert src.read_text().splitlines()[0] == text.splitlines()[0]
    finally:
        datafiles._user_dirs.clear()
        forget_profiles()


def test_calibrate_bad_record_exits_2(tmp_path: Path) -> None:
    r = CliRunner().invoke(app, ["calibrate", "--record", str(tmp_path / "none")])
    assert r.exit_code == 2 and r.stderr.count("\n") == 1
