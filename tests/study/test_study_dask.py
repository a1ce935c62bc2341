"""A Dask LocalCluster run stores exactly the rows of a local run."""

from __future__ import annotations

from pathlib import Path

import pytest
from study_helpers import dump

from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec


def test_dask_local_cluster_equals_local_run(small_spec: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    distributed = pytest.importorskip("distributed")
    spec = load_spec(small_spec)
    local = tmp_path / "local"
    run_study(spec, local, workers=2, fancy=False)
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        protocol="tcp",
        dashboard_address=None,
    ) as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tcp://")
        code, out, err = cli(
            ["study", str(small_spec), "--out", str(tmp_path / "dask"), "--scheduler", address]
        )
    assert code == 0, err
    assert "96 computed on Dask" in out
    assert dump(tmp_path / "dask") == dump(local)


def test_unreachable_scheduler_is_one_line(small_spec: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(
        ["study", str(small_spec), "--out", str(tmp_path / "o"), "--scheduler", "tcp://127.0.0.1:9"]
    )
    assert code == 2 and "cannot reach a Dask scheduler" in err
    assert len(err.strip().splitlines()) == 1
