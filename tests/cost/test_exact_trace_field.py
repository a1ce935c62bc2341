"""A workload's ``[[domains]] trace``: exact mode replays it for those vCPUs; analytic mode ignores
it; a bad path is one line naming the file and the field, exit 2."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from vtlbsim.cli.common import app
from vtlbsim.cost import evaluate, load_workload
from vtlbsim.cost.exact import evaluate_exact
from vtlbsim.cost.workload import WorkloadError

GZIP = Path(__file__).resolve().parents[2] / "traces" / "gzip.npz"

WORKLOAD = """platform = "cortex-a57-juno"
duration_s = 0.05
[scheduler]
kind = "round-robin"
timeslice_ms = 5
[[domains]]
kind = "linux-arm32-up"
count = 2
vcpus = 1
{trace}
[[domains]]
kind = "linux-arm32-up"
count = 2
vcpus = 1
"""


def _write(tmp_path: Path, trace: str) -> Path:
    f = tmp_path / "w.toml"
    f.write_text(WORKLOAD.format(trace=trace))
    return f


def test_trace_field_replays_in_exact_mode_only(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    shutil.copy(GZIP, tmp_path / "t" / "gzip.npz")
    traced = load_workload(_write(tmp_path, 'trace = "t/gzip.npz"'))
    assert traced.domains[0].trace == str(tmp_path / "t" / "gzip.npz")  # resolved at load
    assert traced.domains[1].trace is None
    plain = load_workload(_write(tmp_path, ""))
    ex_t = evaluate(traced, "flush-on-switch", pcpus=2, mode="exact")
    ex_p = evaluate(plain, "flush-on-switch", pcpus=2, mode="exact")
    assert ex_t.events["references"] == ex_p.events["references"]
    assert ex_t.events["walks:capacity"] != ex_p.events["walks:capacity"]
    assert ex_t.events["walks:hyp-load"] != ex_p.events["walks:hyp-load"]
    an_t = evaluate(traced, "flush-on-switch", pcpus=2)
    an_p = evaluate(plain, "flush-on-switch", pcpus=2)
    assert an_t.to_json() == an_p.to_json()


def test_trace_field_relative_to_the_workload_file(tmp_path: Path) -> None:
    """`vtlbsim run --mode exact` from another directory finds the trace next to the file."""
    assert Path.cwd() != tmp_path
    (tmp_path / "t").mkdir()
    shutil.copy(GZIP, tmp_path / "t" / "gzip.npz")
    f = _write(tmp_path, 'trace = "t/gzip.npz"')
    r = CliRunner().invoke(
        app, ["run", str(f), "--mode", "exact", "--policy", "flush-on-switch", "--json"]
    )
    assert r.exit_code == 0, r.stderr
    row = json.loads(r.stdout)[0]
    assert row["mode"] == "exact" and row["events"]["references"] > 0
    r = CliRunner().invoke(
        app, ["validate", str(f), "--policy", "flush-on-switch", "--pcpus", "2", "--json"]
    )
    # claimed here: the event-driven causes; hyp-flush is one flush per round-robin load, which
    # both modes count alike, so they agree
    assert r.exit_code == 0, r.stdout
    out = json.loads(r.stdout)
    assert out["ok"] is True
    hyp = [row for row in out["rows"] if row["cause"] == "hyp-flush"]
    assert len(hyp) == 1 and hyp[0]["claimed"] and hyp[0]["analytic"] > 0


def test_bad_trace_path_exit_2(tmp_path: Path) -> None:
    f = _write(tmp_path, 'trace = "nope/missing.npz"')
    try:
        load_workload(f)
    except WorkloadError as exc:
        msg = str(exc)
    else:
        raise AssertionError("a missing trace was accepted")
    assert msg.startswith(f"{f}:10: domains[0].trace: ") and "missing.npz" in msg
    for mode in ("analytic", "exact"):
        r = CliRunner().invoke(app, ["run", str(f), "--mode", mode])
        assert r.exit_code == 2
        assert r.stderr.count("\n") == 1
        assert str(f) in r.stderr and "domains[0].trace" in r.stderr and "missing.npz" in r.stderr
    r = CliRunner().invoke(app, ["run", str(_write(tmp_path, 'trace = ""'))])
    assert r.exit_code == 2 and "domains[0].trace" in r.stderr and r.stderr.count("\n") == 1


def test_trace_field_is_the_same_replay_as_the_traces_argument(tmp_path: Path) -> None:
    """Every domain traced through the file == ``evaluate_exact(traces={kind: file})``."""
    shutil.copy(GZIP, tmp_path / "gzip.npz")
    both = WORKLOAD.format(trace='trace = "gzip.npz"').replace(
        "vcpus = 1\n", 'vcpus = 1\ntrace = "gzip.npz"\n'
    )
    both = both.replace('trace = "gzip.npz"\ntrace = "gzip.npz"\n', 'trace = "gzip.npz"\n')
    f = tmp_path / "both.toml"
    f.write_text(both)
    traced = load_workload(f)
    assert [d.trace for d in traced.domains] == [str(tmp_path / "gzip.npz")] * 2
    plain = load_workload(_write(tmp_path, ""))
    a = evaluate_exact(traced, "flush-on-migrate", 2, 0, None)
    b = evaluate_exact(plain, "flush-on-migrate", 2, 0, None, traces={"linux-arm32-up": str(GZIP)})
    assert a.to_json() == b.to_json()
