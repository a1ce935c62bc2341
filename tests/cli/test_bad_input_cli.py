"""Every input checked (issue 13 item 5, issue 14 item 5): each case below exits 2 with one
line on stderr, ``vtlbsim: ...`` naming what was wrong, and never a traceback. Run through
``python -m vtlbsim`` (the real entry point, which formats usage errors)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.study.store import Store

ROOT = Path(__file__).resolve().parents[2]
CONSOLIDATION = str(ROOT / "examples/workloads/consolidation-arm32-up.toml")


def vtlbsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vtlbsim", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


def one_line(res: subprocess.CompletedProcess[str], *says: str) -> None:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert res.stderr.count("\n") == 1, res.stderr
    line = res.stderr.rstrip("\n")
    assert line.startswith("vtlbsim: ") and "Traceback" not in line
    assert not line.startswith("vtlbsim: :"), line
    for s in says:
        assert s in line, line


@pytest.fixture(scope="module")
def binary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    p = tmp_path_factory.mktemp("bin") / "x.toml"
    p.write_bytes(bytes(range(256)) * 4)
    return p


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("store")
    Store(d).close()  # an empty but valid store
    return d


def test_run_on_a_binary_file(binary: Path) -> None:
    one_line(vtlbsim("run", str(binary)), str(binary), "not a text file")


def test_platforms_show_a_binary_file(binary: Path) -> None:
    one_line(vtlbsim("platforms", "show", str(binary)), str(binary), "not a text file")


def test_run_platform_option_on_a_binary_file(binary: Path) -> None:
    one_line(vtlbsim("run", CONSOLIDATION, "--platform", str(binary)), "--platform")


@pytest.mark.parametrize("sql", ["", "   ", "-- only a comment"])
def test_query_without_a_statement(store: Path, sql: str) -> None:
    res = vtlbsim("query", str(store), "--", sql)
    if sql.strip():  # a comment is a statement without a result: not an error
        assert res.returncode == 0 and "no result" in res.stdout
    else:
        one_line(res, "query: expected an SQL statement")


@pytest.mark.parametrize(
    "sql",
    [
        "COPY results TO 'x.csv'",
        "SELECT * FROM read_csv('/etc/hostname')",
        "ATTACH 'other.duckdb' AS o",
        "SET enable_external_access = true",
    ],
)
def test_query_can_neither_read_nor_write_files(store: Path, tmp_path: Path, sql: str) -> None:
    one_line(vtlbsim("query", str(store), sql, cwd=tmp_path), "query: ")
    assert list(tmp_path.iterdir()) == []


def test_query_still_reads_the_store(store: Path) -> None:
    res = vtlbsim("query", str(store), "SELECT count(*) AS n FROM results", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [{"n": 0}]


@pytest.mark.parametrize(
    ("pcpus", "says"),
    [
        ("200", "--pcpus: 200 is more than the 96 cores of platform thunderx-cn8890-2s"),
        ("8,97", "--allow-more-cores"),
        ("", "--pcpus: expected comma-separated positive integers"),
        ("8,,16", "got '8,,16'"),
        ("0", "got '0'"),
        ("eight", "got 'eight'"),
    ],
)
def test_bad_core_counts(pcpus: str, says: str) -> None:
    one_line(vtlbsim("run", CONSOLIDATION, "--policy", "fb", "--pcpus", pcpus), says)


def test_more_cores_when_asked_for() -> None:
    res = vtlbsim(
        "run", CONSOLIDATION, "--policy", "fb", "--pcpus", "200", "--allow-more-cores", "--json"
    )
    assert res.returncode == 0, res.stderr
    assert [r["pcpus"] for r in json.loads(res.stdout)] == [200]


def test_no_command_is_a_usage_error() -> None:
    one_line(vtlbsim(), "expected a command: ", " check, ", " run, ", "`vtlbsim --help`")
    one_line(vtlbsim("trace"), "vtlbsim: trace: expected a command: import, show")


def test_usage_errors_have_no_stray_separator() -> None:
    res = vtlbsim("run", "--bogus")
    one_line(res)
    assert res.stderr.startswith("vtlbsim: run: No such option: --bogus")
    res = vtlbsim("no-such-command")
    one_line(res)
    assert res.stderr.startswith("vtlbsim: No such command 'no-such-command'")


COMMANDS = [
    [],
    ["run"],
    ["check"],
    ["litmus"],
    ["policies"],
    ["guests"],
    ["calibrate"],
    ["platforms"],
    ["platforms", "show"],
    ["study"],
    ["report"],
    ["query"],
    ["validate"],
    ["trace", "import"],
    ["trace", "show"],
]


@pytest.mark.parametrize("cmd", COMMANDS, ids=lambda c: " ".join(c) or "vtlbsim")
def test_help_shows_no_value_for_a_flag(cmd: list[str]) -> None:
    res = vtlbsim(*cmd, "--help")
    assert res.returncode == 0, res.stderr
    assert "<bool>" not in res.stdout and "--help" in res.stdout


def test_check_guest_help_lists_the_kinds() -> None:
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim", "check", "--help"],
        capture_output=True,
        text=True,
        env={"COLUMNS": "400", "PATH": "/usr/bin:/bin"},
        timeout=120,
    )
    assert res.returncode == 0
    flat = " ".join(res.stdout.split())
    assert all(k in flat for k in KIND_NAMES)


def test_overhead_above_the_machine_is_flagged(tmp_path: Path) -> None:
    """A workload the machine could not run (migrations every 1 µs with a 1 µs timeslice):
    overheads over 100% are marked outside the model's validity, in JSON and in the table."""
    text = Path(CONSOLIDATION).read_text()
    text = text.replace("migrations_per_vcpu_s = 20", "migrations_per_vcpu_s = 1e9")
    text = text.replace("timeslice_ms = 30", "timeslice_ms = 0.001")
    wl = tmp_path / "saturated.toml"
    wl.write_text(text)
    res = vtlbsim("run", str(wl), "--all-policies", "--json")
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)
    assert any(r["overhead_pct"] > 100 for r in rows)
    assert all(r["valid"] == (r["overhead_pct"] <= 100) for r in rows)
    res = vtlbsim("run", str(wl), "--all-policies")
    flagged = [ln for ln in res.stdout.splitlines() if ln.startswith("|") and "†" in ln]
    over = {r["policy"] for r in rows if r["overhead_pct"] > 100}
    assert {ln.split("|")[1].strip() for ln in flagged} == over
    assert "outside the cost model's validity" in res.stdout
