"""The report in a real browser (issue 13 item 6): headless Chromium (Debian's ``chromium``,
installed by .ci/run) loads report.html; a script added to a copy of the page measures what
the browser laid out, and the test checks that every figure the report wrote is drawn with a
size, every table is there, and nothing is wider than the window (no horizontal overflow).

Without Chromium the test is skipped, unless ``VTLBSIM_REQUIRE_BROWSER=1`` (as in CI)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

WIDTH = 1280

PROBE = """
<script>
window.addEventListener('load', () => {
  const W = window.innerWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width > 0 && r.right > W + 1) wide.push(el.tagName + (el.id ? '#' + el.id : ''));
  }
  const figs = [...document.querySelectorAll('figure')].map(f => {
    const s = f.querySelector('svg'); const r = s ? s.getBoundingClientRect() : {width: 0, height: 0};
    return {id: f.id, w: Math.round(r.width), h: Math.round(r.height),
            caption: (f.querySelector('figcaption') || {}).textContent || ''};
  });
  const tables = [...document.querySelectorAll('table')].map(t => ({
    rows: t.rows.length, w: Math.round(t.getBoundingClientRect().width),
    box: Math.round(t.parentElement.getBoundingClientRect().width)}));
  const out = {W, scroll: document.documentElement.scrollWidth, wide, figs, tables,
               h2: [...document.querySelectorAll('h2')].map(h => h.textContent)};
  const pre = document.createElement('pre'); pre.id = 'vtlbsim-probe';
  pre.textContent = JSON.stringify(out); document.body.appendChild(pre);
});
</script>
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def render(page: Path, tmp: Path, extra: list[str]) -> subprocess.CompletedProcess[str]:
    """Headless Chromium on a local page, offline, with a fresh profile."""
    exe = chromium()
    assert exe is not None
    return subprocess.run(
        [
            exe,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}",
            f"--window-size={WIDTH},2000",
            *extra,
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
    )


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from study_helpers import small_study

    return small_study(tmp_path_factory.mktemp("browser"), report=True)


@pytest.fixture(autouse=True)
def need_browser() -> None:
    if chromium() is None:
        if os.environ.get("VTLBSIM_REQUIRE_BROWSER") == "1":
            pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
        pytest.skip("chromium is not installed (CI installs it)")


def test_every_figure_and_table_is_laid_out_and_nothing_overflows(
    report_dir: Path, tmp_path: Path
) -> None:
    page = (report_dir / "report.html").read_text()
    probe = tmp_path / "report.html"
    probe.write_text(page.replace("</body>", PROBE + "</body>"))
    res = render(probe, tmp_path, ["--dump-dom"])
    assert res.returncode == 0, res.stderr[-2000:]
    m = re.search(r'<pre id="vtlbsim-probe">(.*?)</pre>', res.stdout, re.S)
    assert m, res.stdout[-2000:]
    got = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))
    assert got["W"] == WIDTH and got["scroll"] <= WIDTH and got["wide"] == [], got
    written = sorted(p.stem for p in (report_dir / "figures").glob("*.svg"))
    assert sorted(f["id"].removeprefix("fig-") for f in got["figs"]) == written
    for f in got["figs"]:
        assert f["w"] > 300 and f["h"] > 150 and f["caption"], f
    md_tables = (report_dir / "report.md").read_text().count("\n| --- ") + (
        report_dir / "report.md"
    ).read_text().count("\n| ---: ")
    assert len(got["tables"]) == md_tables >= 2
    for t in got["tables"]:
        assert t["rows"] >= 2 and t["w"] <= t["box"] + 1, t
    assert got["h2"][0] == "What the answer rests on"


def test_screenshot_is_a_png(report_dir: Path, tmp_path: Path) -> None:
    shot = tmp_path / "shot.png"
    res = render(report_dir / "report.html", tmp_path, [f"--screenshot={shot}"])
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
