"""The flagship study answers the issue's question: its axes are the ones the issue names;
`make run` (vtlbsim.flagship) runs it and writes the report (slow: the model checker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim import flagship
from vtlbsim.study.spec import load_spec
from vtlbsim.study.sweep import expand


def test_seed_study_covers_the_issue() -> None:
    spec = load_spec(flagship.SPEC)
    assert spec.axes.platforms == ["thunderx-cn8890-2s"]
    assert min(spec.axes.pcpus) == 8 and max(spec.axes.pcpus) == 96
    assert min(spec.axes.migration_rates) == 1 and max(spec.axes.migration_rates) == 10_000
    assert set(spec.axes.policies) == {
        "fb",
        "flush-on-migrate",
        "flush-on-arrival",
        "fb+last-vcpu-ran",
        "trap-ttlb",
    }
    kinds = {d.kind for m in spec.mixes for d in m.domains}
    assert kinds == {"linux-arm32-up", "freebsd-armv7-up", "linux-arm64-smp", "linux-arm64-local"}
    assert any(len({d.kind for d in m.domains}) > 1 for m in spec.mixes)  # and mixes
    points = expand(spec)
    n = len(spec.axes.pcpus) * len(spec.mixes) * len(spec.axes.migration_rates) * 5
    assert len(points) == n
    # 2 vCPUs per pCPU in every mix
    assert all(sum(c * v for _, c, v in p.domains) == 2 * p.pcpus for p in points)


@pytest.mark.slow
def test_make_run_writes_the_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert flagship.main([str(tmp_path / "seed")]) == 0
    out = capsys.readouterr().out
    # the recommendation per mix, the headline's ranges, and where the report is
    assert "cheapest safe at" in out and "with uncertainty" in out and "report:" in out
    for name in ("report.md", "report.html", "results.duckdb"):
        assert (tmp_path / "seed" / name).stat().st_size > 0
