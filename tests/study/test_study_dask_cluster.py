"""A study on a real Dask cluster stores exactly the rows of a local run, including points that
read the user's own platform profile and guest kind.

The cluster is a ``dask scheduler`` and two ``dask worker`` processes started in an empty
directory with vtlbsim installed (this venv) but without the checkout's test helpers on their
path, without ``VTLBSIM_PROFILES``, and with the user's files deleted once the study has read
its spec: every file a point needs beyond the installed package travels with the point
(``study/carried.py``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from study_helpers import dump

from vtlbsim import datafiles
from vtlbsim.study import run as study_run
from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import Store

DASK = str(Path(sys.executable).parent / "dask")

SPEC = """
name = "carried"
title = "a user's files on a cluster"
[axes]
platforms = ["my-platform.toml", "thunderx-cn8890-2s"]
pcpus = [4]
policies = ["fb", "flush-on-migrate"]
migration_rates = [10, 1000]
modes = ["analytic", "exact"]
[fixed]
duration_s = 0.004
timeslice_ms = 1
scheduler = "random-migrate"
[[mixes]]
name = "mine"
domains = [{ kind = "kinds/my-kind.toml", per_pcpu = 1, vcpus = 1 }]
[[mixes]]
name = "shipped"
domains = [{ kind = "linux-arm64-smp", count = 1, vcpus = 4 }]
"""


def _user_files(where: Path) -> Path:
    """The user's spec, platform profile (ThunderX with twice its DVM receive cost) and guest
    kind (linux-arm32-up with four times its PTE-change rate), as files only they have."""
    where.mkdir()
    (where / "study.toml").write_text(SPEC)
    plat = (datafiles.package_dir(datafiles.PROFILES) / "thunderx-cn8890-2s.toml").read_text()
    plat = plat.replace('name = "thunderx-cn8890-2s"', 'name = "my-platform"', 1)
    plat, n = re.subn(
        r"(dvm_receive_cycles = \{ value = )([0-9.]+)",
        lambda m: f"{m.group(1)}{2 * float(m.group(2))}",
        plat,
    )
    assert n == 1
    (where / "my-platform.toml").write_text(plat)
    kind = (datafiles.package_dir(datafiles.GUESTS) / "linux-arm32-up.toml").read_text()
    kind = kind.replace('name = "linux-arm32-up"', 'name = "my-kind"', 1)
    kind, n = re.subn(
        r"(pte_changes_per_s = \{ value = )([0-9.]+)",
        lambda m: f"{m.group(1)}{4 * float(m.group(2))}",
        kind,
    )
    assert n == 1
    (where / "kinds").mkdir()
    (where / "kinds" / "my-kind.toml").write_text(kind)
    return where / "study.toml"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[str]:
    """A scheduler and two single-threaded workers, away from the checkout; their address."""
    distributed = pytest.importorskip("distributed")
    home = tmp_path / "cluster"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", datafiles.ENV_VAR)}
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str) -> None:
        log = (home / f"{len(started)}.log").open("wb")
        started.append(
            subprocess.Popen(
                [DASK, *args], cwd=home, env=env, stdout=log, stderr=log, start_new_session=True
            )
        )

    info = home / "scheduler.json"
    try:
        start("scheduler", "--scheduler-file", str(info), "--port", "0", "--no-dashboard")
        deadline = time.monotonic() + 120
        while not info.is_file() and time.monotonic() < deadline:
            time.sleep(0.2)
        for _ in range(2):
            start("worker", "--scheduler-file", str(info), "--nthreads", "1", "--no-dashboard")
        address = json.loads(info.read_text())["address"]
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    finally:
        for p in started:
            os.killpg(p.pid, signal.SIGTERM)
        for p in started:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def test_cluster_without_the_users_files_equals_local_run(
    tmp_path: Path, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_file = _user_files(tmp_path / "user")
    spec = load_spec(spec_file)
    local = tmp_path / "local"
    run_study(spec, local, workers=1, fancy=False)

    expand = study_run.expand

    def expand_then_forget(s):  # type: ignore[no-untyped-def]
        points = expand(s)
        shutil.rmtree(tmp_path / "user")  # from here on, only what the points carry
        return points

    monkeypatch.setattr(study_run, "expand", expand_then_forget)
    remote = tmp_path / "dask"
    run = run_study(spec, remote, scheduler=cluster, fancy=False)
    assert not (tmp_path / "user").exists()
    assert run.computed == run.total == 32
    assert dump(remote) == dump(local)
    with Store(local, read_only=True) as store:
        _, rows = store.query(
            "SELECT platform, mix, mode, count(*), count(DISTINCT overhead_pct) FROM results "
            "GROUP BY ALL ORDER BY ALL"
        )
        assert [r[:4] for r in rows] == [
            (p, m, mode, 4)
            for p in ("my-platform.toml", "thunderx-cn8890-2s")
            for m in ("mine", "shipped")
            for mode in ("analytic", "exact")
        ]
        # the user's profile was used: FB's added broadcasts cost more on it
        _, diff = store.query(
            "SELECT count(*) FROM results a JOIN results b USING (pcpus, mix, policy, "
            "migration_rate, mode) WHERE a.platform = 'my-platform.toml' "
            "AND b.platform = 'thunderx-cn8890-2s' AND a.policy = 'fb' AND a.mix = 'mine' "
            "AND a.cycles_dvm_others > b.cycles_dvm_others"
        )
        assert diff[0][0] == 4
