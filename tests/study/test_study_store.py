"""The store: same spec → identical rows whatever the worker count; resumable; bad stores are
refused with one line; `vtlbsim query`."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from study_helpers import dump

from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import BASE_NAMES, Store, StoreError


def test_two_runs_and_worker_counts_give_identical_stores(small_spec: Path, tmp_path: Path) -> None:
    spec = load_spec(small_spec)
    a, b = tmp_path / "a", tmp_path / "b"
    ra = run_study(spec, a, workers=1, fancy=False)
    rb = run_study(spec, b, workers=2, fancy=False)
    assert ra.total == rb.total == 96 and ra.computed == rb.computed == 96
    cols, rows = dump(a)
    assert dump(b) == (cols, rows)
    assert len(rows) == 96 and len({r[0] for r in rows}) == 96
    assert cols[: len(BASE_NAMES)] == list(BASE_NAMES)
    assert any(c.startswith("cycles_") for c in cols) and any(c.startswith("events_") for c in cols)
    # a rerun computes nothing and changes nothing
    again = run_study(spec, a, workers=2, fancy=False)
    assert (again.already, again.computed, again.stored) == (96, 0, 96)
    assert dump(a) == (cols, rows)


def test_rerun_computes_only_missing_points(small_spec: Path, tmp_path: Path) -> None:
    spec = load_spec(small_spec)
    out = tmp_path / "o"
    run_study(spec, out, workers=1, fancy=False)
    full = dump(out)
    with Store(out) as s:
        s.con.execute("DELETE FROM results WHERE policy = 'fb' AND pcpus = 16")
        left = s.count()
    again = run_study(spec, out, workers=1, fancy=False)
    assert again.already == left and again.computed == 96 - left
    assert dump(out) == full


def test_safety_and_cost_columns(small_spec: Path, tmp_path: Path) -> None:
    run_study(load_spec(small_spec), tmp_path / "o", workers=1, fancy=False)
    with Store(tmp_path / "o", read_only=True) as s:
        _, rows = s.query(
            "SELECT count(*) FROM results WHERE abs(total_cycles - "
            "(cycles_tlbi_is + cycles_refill + cycles_trap + cycles_icache_refill)) > 1e-6 * total_cycles"
        )
        assert rows == [(0,)]
        _, kinds = s.query("SELECT DISTINCT kinds, policy, safe, unsafe_kinds FROM results")
    from study_fake_safety import safe

    for k, policy, verdict, unsafe in kinds:
        each = [safe(x, policy) for x in k.split(",")]
        assert verdict == (False if False in each else (None if None in each else True))
        assert set(filter(None, unsafe.split(","))) == {
            x for x, v in zip(k.split(","), each, strict=True) if v is False
        }


def test_safety_verdicts_are_computed_once_per_pair(small_spec: Path, tmp_path: Path) -> None:
    import study_fake_safety

    study_fake_safety.CALLS.clear()
    spec = load_spec(small_spec)
    run_study(spec, tmp_path / "o", workers=1, fancy=False)
    first = list(study_fake_safety.CALLS)
    kinds = {"linux-arm32-up", "linux-arm64-smp", "freebsd-armv7-up"}
    assert sorted(first) == sorted({(k, p) for k in kinds for p in spec.axes.policies})
    with Store(tmp_path / "o") as s:
        s.con.execute("DELETE FROM results WHERE policy = 'trap-ttlb'")
    run_study(spec, tmp_path / "o", workers=1, fancy=False)
    assert study_fake_safety.CALLS == first  # the stored verdicts were reused


def test_corrupt_store_is_refused_with_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    out.mkdir()
    (out / "results.duckdb").write_bytes(b"this is not a database\n" * 500)
    for args in (["query", str(out), "SELECT 1"], ["report", str(out)]):
        code, _, err = cli(args)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert "results.duckdb" in err and "Traceback" not in err
    with pytest.raises(StoreError):
        Store(out)


def test_foreign_duckdb_is_refused(small_spec: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "o"
    out.mkdir()
    con = duckdb.connect(str(out / "results.duckdb"))
    con.execute("CREATE TABLE results (a INTEGER)")
    con.close()
    code, _, err = cli(["study", str(small_spec), "--out", str(out), "-j", "1"])
    assert code == 2 and "not a vtlbsim study store" in err and len(err.strip().splitlines()) == 1


def test_missing_store_and_bad_sql(small_spec: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(["query", str(tmp_path / "nothing"), "SELECT 1"])
    assert code == 2 and "no study store" in err
    out = tmp_path / "o"
    run_study(load_spec(small_spec), out, workers=1, fancy=False)
    code, _, err = cli(["query", str(out), "SELEKT 1"])
    assert code == 2 and len(err.strip().splitlines()) == 1
    code, stdout, _ = cli(
        [
            "query",
            str(out),
            "SELECT policy, count(*) AS n FROM results GROUP BY policy ORDER BY policy",
        ]
    )
    assert code == 0
    assert [ln.split()[0] for ln in stdout.splitlines() if " 24" in ln] == [
        "fb",
        "flush-on-arrival",
        "flush-on-migrate",
        "trap-ttlb",
    ]
    code, _, err = cli(["query", str(out), "DROP TABLE results"])
    assert code == 2  # read-only
