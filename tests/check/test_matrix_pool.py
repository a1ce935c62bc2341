"""``check --matrix --jobs N``: the pairs run in worker processes forked by a fork server
(``vtlbsim.workers``), never by a fork of the calling process, which may run threads. What
the workers need reaches them: a plug-in policy (``mod:Class`` from ``sys.path``, or a
``file.py:Class`` named relative to the working directory) and a kind file; the results are
those of ``--jobs 1``; Ctrl-C keeps what finished and leaves no process behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from vtlbsim.check import matrix

ROOT = Path(__file__).resolve().parents[2]
XSA_FILE = ROOT / "examples" / "policies" / "xsa_pattern.py"
KIND_FILE = ROOT / "examples" / "guests" / "linux-arm32-up-bpiall-switch.toml"
ONE_TABLE_PER_PROCESS = ("linux-arm64-smp", "linux-arm64-local")
PROGRESS = "vtlbsim: check --matrix: "
"""How the matrix's progress lines begin (on stderr off a terminal, every 2 s)."""


def _summary(rs: list[matrix.CheckResult]) -> list[tuple[object, ...]]:
    return [
        (
            r.kind,
            r.policy,
            r.safe,
            r.states,
            r.actions,
            None if r.counterexample is None else r.counterexample.to_litmus(),
        )
        for r in rs
    ]


def test_the_pool_never_forks_a_process_that_runs_threads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With another thread running in this process (as in a test runner, or under a progress
    bar), ``jobs=2`` never forks this process, and Python 3.12+ gives no DeprecationWarning
    "This process ... is multi-threaded, use of fork() may lead to deadlocks in the child"
    (recorded here: ``-W error`` cannot catch it, os.fork drops the error); and its results
    equal ``jobs=1``'s, counterexamples included (the UP kernel and per-CPU tables are unsafe
    under none at depth 7: H1 in 7 actions, H2 in 5). The verdict cache it fills gives them
    back, the same, to a rerun on two workers that checks nothing."""
    kinds, policies = ["linux-arm32-up", "percpu-tables"], ["none", "flush-on-arrival"]
    one = matrix.matrix_results(kinds, policies, depth=7, jobs=1)
    assert [(r.safe, len(r.actions)) for r in one] == [(False, 7), (True, 0), (False, 5), (True, 0)]
    forks: list[int] = []
    real_fork = os.fork
    cache = matrix.VerdictCache(tmp_path)

    def counted_fork() -> int:
        forks.append(threading.active_count())
        return real_fork()

    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="another thread")
    other.start()
    try:
        monkeypatch.setattr(os, "fork", counted_fork)
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            two = matrix.matrix_results(kinds, policies, depth=7, jobs=2, cache=cache)
    finally:
        stop.set()
        other.join()
    assert [str(w.message) for w in seen if "fork" in str(w.message)] == []
    assert forks == []
    assert _summary(two) == _summary(one)
    assert len(list(tmp_path.glob("*.json"))) == 4
    monkeypatch.setattr(matrix, "_check_pair", _no_check)  # a pair checked again fails
    again = matrix.matrix_results(kinds, policies, depth=7, jobs=2, cache=cache)
    assert all(r.from_cache for r in again) and _summary(again) == _summary(one)


def _no_check(kind: str, policy: str, opts: matrix.Options) -> matrix.CheckResult:
    raise AssertionError(f"{kind} under {policy} was checked, not read from the cache")


def _vtlbsim(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """``python -W always::DeprecationWarning -m vtlbsim ARGS`` in ``cwd``: the fork server and
    its workers inherit the filter, so a fork of a threaded process there prints a warning."""
    return subprocess.run(
        [sys.executable, "-W", "always::DeprecationWarning", "-m", "vtlbsim", *args],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


def _rows(stdout: str) -> dict[str, dict[str, Any]]:
    return {f"{r['kind']}/{r['policy']}": r for r in json.loads(stdout)}


def test_plug_in_policies_and_kind_files_reach_the_workers(tmp_path: Path) -> None:
    """The example plug-in (the XSA pattern: a vCPU that ran on this pCPU before is not
    flushed) against every kind at depth 6, on two workers: given as a file relative to the
    working directory, and as ``module:Class`` found through PYTHONPATH. Only per-CPU tables
    is unsafe, in 6 actions (test_policy_state: FB+BSU closes every H1 of the kinds with one
    table per process). Then the example kind file, relative, against every policy at depth 8:
    flush-on-migrate safe, FB unsafe (its BPIALL at switch_mm stays local; test_kinds)."""
    (tmp_path / "plugins").mkdir()
    shutil.copy(XSA_FILE, tmp_path / "plugins" / "xsa_pattern.py")
    shutil.copy(KIND_FILE, tmp_path / "kind.toml")
    common = ["check", "--matrix", "--no-cache", "--json"]
    runs = {
        "file": (["--policy", "plugins/xsa_pattern.py:SkipIfRanHereBefore", "--depth", "6"], {}),
        "module": (
            ["--policy", "xsa_pattern:SkipIfRanHereBefore", "--depth", "6"],
            {"PYTHONPATH": str(tmp_path / "plugins")},
        ),
        "kind": (["--guest", "kind.toml", "--depth", "8"], {}),
    }
    got: dict[str, dict[str, dict[str, Any]]] = {}
    for name, (args, env) in runs.items():
        r = _vtlbsim([*common, *args, "--jobs", "2"], tmp_path, **env)
        said = [ln for ln in r.stderr.splitlines() if not ln.startswith(PROGRESS)]
        assert r.returncode == 1 and said == [], (name, r.stderr)
        got[name] = _rows(r.stdout)
    for name in ("file", "module"):
        rows = {r["kind"]: r for r in got[name].values()}
        assert {r["policy"] for r in rows.values()} == {"xsa-pattern"}
        assert not rows["percpu-tables"]["safe"] and len(rows["percpu-tables"]["actions"]) == 6
        for kind in ONE_TABLE_PER_PROCESS:
            assert rows[kind]["safe"], (name, kind)
    kind_rows = {r["policy"]: r for r in got["kind"].values()}
    assert {r["kind"] for r in kind_rows.values()} == {"kind.toml"}
    assert kind_rows["flush-on-migrate"]["safe"]
    assert not kind_rows["fb"]["safe"] and kind_rows["fb"]["violation"]["category"] == "stale-bp"


def test_the_maintenance_command_regenerates_stale_rows_on_two_workers(tmp_path: Path) -> None:
    """``python -m vtlbsim.check.matrix FILE 2``, the command that regenerates ``safety.json``,
    runs its module as ``__main__``, which the workers rebuild: two rows of one kind made
    stale (fingerprints changed) are checked again on two workers and come back as shipped,
    with nothing on stderr."""
    shipped = json.loads(matrix.CACHE.read_text())
    data = json.loads(matrix.CACHE.read_text())
    stale = [r for r in data["verdicts"] if r["kind"] == "percpu-tables"][:2]
    for row in stale:
        row["fingerprint"] = "0" * 64
    path = tmp_path / "safety.json"
    path.write_text(json.dumps(data))
    res = subprocess.run(
        [sys.executable, "-m", "vtlbsim.check.matrix", str(path), "2"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0 and res.stderr == "", res.stderr
    assert json.loads(path.read_text()) == shipped


PROBE = """
import os, sys
from pathlib import Path
from vtlbsim.hyp.policies.none import NonePolicy

Path(os.environ["PROBE_DIR"], str(os.getpid())).write_text(str("vtlbsim.cli" in sys.modules))


class Probe(NonePolicy):
    name = "probe"
"""


def test_workers_of_the_script_do_not_import_the_cli(tmp_path: Path) -> None:
    """Run through the ``vtlbsim`` script, the workers do not run the script again (which
    imports the whole CLI in each: ``cli._script_as_module``). A plug-in policy file records,
    in each process that loads it, whether ``vtlbsim.cli`` is imported: the CLI's process and
    two workers, which have not."""
    (tmp_path / "probe.py").write_text(PROBE)
    (tmp_path / "seen").mkdir()
    script = Path(sys.executable).with_name("vtlbsim")
    res = subprocess.run(
        [str(script), "check", "--matrix", "--no-cache", "--policy", "probe.py:Probe"]
        + ["--depth", "2", "--jobs", "2", "--json"],
        cwd=tmp_path,
        env={**os.environ, "PROBE_DIR": str(tmp_path / "seen")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr  # no counterexample has only 2 actions
    seen = sorted(f.read_text() for f in (tmp_path / "seen").iterdir())
    assert seen == ["False", "False", "True"], seen


def _session_pids(sid: int) -> set[int]:
    """The processes of session ``sid`` still alive (zombies aside)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()  # after "pid (comm)": state, ppid, pgrp, sid
        if int(fields[3]) == sid and fields[0] != "Z":
            found.add(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc")
def test_ctrl_c_keeps_the_pairs_done_and_leaves_no_worker(tmp_path: Path) -> None:
    """A terminal's Ctrl-C (SIGINT to the whole process group) once the matrix at depth 9 on
    two workers is under way: one line says how many pairs are kept and where (the cache holds
    that many), exit 130, no traceback; and no process of the session is left (the workers
    and their fork server were running before the signal)."""
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "vtlbsim", "check", "--matrix", "--depth", "9", "--jobs", "2"]
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "VTLBSIM_CACHE": str(cache)},
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    first = proc.stderr.readline()  # the first progress line: pairs are done, others running
    assert first.startswith(PROGRESS), first
    running = _session_pids(proc.pid)
    assert len(running) >= 3, running  # the CLI and two workers (and a fork server)
    os.killpg(proc.pid, signal.SIGINT)
    out, rest = proc.communicate(timeout=120)
    lines = [ln for ln in rest.splitlines() if not ln.startswith(PROGRESS)]
    assert proc.returncode == 130, rest
    assert len(lines) == 1 and lines[0].startswith("vtlbsim: interrupted: "), rest
    assert f"kept in {cache}; rerun to check the rest" in lines[0]
    kept = int(lines[0].split("interrupted: ")[1].split(" of ")[0])
    assert kept >= 1 and len(list(cache.glob("*.json"))) == kept
    deadline = time.monotonic() + 30
    while _session_pids(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _session_pids(proc.pid)
    assert out == ""
