"""`vtlbsim report DIR`: every figure exists and is non-empty; report.html is self-contained;
the headline and the recommendation follow the rows in the store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vtlbsim.study.report import Report, _crossover, build_report
from vtlbsim.study.run import run_study
from vtlbsim.study.spec import load_spec
from vtlbsim.study.store import Store


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from study_helpers import DATA

    d = tmp_path_factory.mktemp("rep")
    for name in ("small.toml", "tiny-platform.toml"):
        (d / name).write_text((DATA / name).read_text())
    run_study(load_spec(d / "small.toml"), d / "out", workers=1, fancy=False)
    return d / "out"


@pytest.fixture(scope="module")
def rep(built: Path) -> Report:
    return build_report(built, built / "api")


def test_report_writes_every_figure_in_png_and_svg(built: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(["report", str(built)])
    assert code == 0, err
    figs = built / "figures"
    stems = {
        "overhead-tiny-platform",
        "cost-to-others-tiny-platform",
        "crossover-tiny-platform",
        "safety",
    }
    for stem in stems:
        for ext in ("png", "svg"):
            f = figs / f"{stem}.{ext}"
            assert f.is_file() and f.stat().st_size > 1000, f
    assert (figs / "safety.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (built / "report.md").read_text()
    for stem in stems:
        assert f"figures/{stem}.png" in md
    assert "## Assumptions the numbers rest on" in md and "dvm_receive_cycles" in md
    assert "report.md" in out and "report.html" in out


def test_html_is_self_contained(rep: Report) -> None:
    page = rep.html.read_text()
    assert page.count("<svg") >= 4
    assert not re.search(r"""(src|href)=["'](?!#|data:)""", page)  # no external files or URLs
    assert "<table>" in page and "Recommendation per guest mix" in page


def test_recommendation_is_the_cheapest_safe_policy(built: Path, rep: Report) -> None:
    assert {h.mix for h in rep.headlines} == {"up", "smp+up"}
    with Store(built, read_only=True) as s:
        for h in rep.headlines:
            _, rows = s.query(
                "SELECT policy, avg(overhead_pct) FROM results WHERE mix = ? AND pcpus = ? "
                "AND migration_rate = ? AND safe GROUP BY policy ORDER BY 2",
                [h.mix, h.pcpus, h.rate],
            )
            assert h.best == rows[0][0]
            assert h.runner_up == rows[1][0]
            m = h.margin()
            assert m is not None and m[0] == pytest.approx(rows[1][1] - rows[0][1])


@given(
    rates=st.lists(st.integers(1, 10**5), min_size=2, max_size=8, unique=True),
    cost_a=st.floats(0, 100),
    slope=st.floats(0.001, 10),
)
def test_crossover_is_bracketed_by_the_swept_rates(
    rates: list[int], cost_a: float, slope: float
) -> None:
    """challenger cost grows with the rate, the baseline's does not: the crossover found lies
    between the last rate where the challenger is cheaper and the first where it is not."""
    pts = [(float(r), slope * r - cost_a) for r in rates]
    found, how = _crossover(pts)
    cheaper = [r for r, d in pts if d <= 0]
    dearer = [r for r, d in pts if d > 0]
    if not cheaper:
        assert how == "below" and found is None
    elif not dearer:
        assert how == "above" and found is None
    else:
        assert how == "" and found is not None
        assert max(cheaper) <= found <= min(dearer) * (1 + 1e-9)


def test_report_on_an_empty_dir_is_one_line(tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli(["report", str(tmp_path)])
    assert code == 2 and "no study store" in err and len(err.strip().splitlines()) == 1
