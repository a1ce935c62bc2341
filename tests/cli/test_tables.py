"""Tables that fit the terminal (issue 14 item 1): at 80, 100 and 120 columns every line fits,
and every policy, guest kind and verdict can be read back whole from the text, matched to the
same figures in ``--json``; piped output (no width) and ``--wide`` are complete."""

from __future__ import annotations

import json
import re
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from vtlbsim.cli.tables import Column, Grid, layout, matrix_grid, verdict_cell, wrap_items
from vtlbsim.guest.kinds import KIND_NAMES

ROOT = Path(__file__).resolve().parents[2]
CONSOLIDATION = str(ROOT / "examples/workloads/consolidation-arm32-up.toml")
WIDTHS = (80, 100, 120)


def _rows(text: str) -> list[list[str]]:
    """The cells of every table row (``|`` or ``│`` separated lines), stripped."""
    out = []
    for ln in text.splitlines():
        s = ln.strip()
        if s[:1] in ("|", "│", "┃"):
            out.append([c.strip() for c in re.split(r"[|│┃]", s)[1:-1]])
    return out


def _fits(text: str, width: int) -> None:
    long = [ln for ln in text.splitlines() if len(ln) > width]
    assert not long, f"lines wider than {width}: {long[:3]}"
    assert "…" not in text


# ---- the renderer on a grid made by hand ----------------------------------------------------

NAMES = ["flush-on-migrate", "fb+last-vcpu-ran", "a-very-long-policy-name-indeed", "none"]


def _grid() -> Grid:
    g = Grid(
        [
            Column("policy", keep=True),
            Column("safe", keep=True),
            Column("overhead", "right", keep=True),
            *(Column(f"cause-number-{i}", "right", short=f"c{i}") for i in range(8)),
        ],
        title="a title",
    )
    for i, n in enumerate(NAMES):
        g.add_row(
            n, "UNSAFE" if i % 2 else "safe", f"{i}.1234", *(f"{i * j}.5e-04" for j in range(8))
        )
    return g


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120, 160, 200, 400])
def test_every_layout_fits_and_keeps_names_and_verdicts_whole(width: int) -> None:
    name, lines = layout(_grid(), width, Console(file=StringIO(), width=width))
    text = "\n".join(ln.plain for ln in lines)
    if name != "stacked":
        _fits(text, width)
        rows = {r[0]: r for r in _rows(text)[1:]}
        for i, n in enumerate(NAMES):
            assert rows[n][1] == ("UNSAFE" if i % 2 else "safe")
    else:  # one block per row: "policy: NAME" then "header: cell" items
        for i, n in enumerate(NAMES):
            block = text.split(f"policy: {n}\n")[1].split("policy: ")[0]
            assert f"safe: {'UNSAFE' if i % 2 else 'safe'}" in block
    assert name == {40: "stacked", 60: "hidden", 80: "hidden", 400: "full"}.get(width, name)


def test_no_width_is_the_full_table() -> None:
    """A pipe (no width): every column under its full header, nothing hidden."""
    name, lines = layout(_grid(), None, Console(file=StringIO()))
    text = "\n".join(ln.plain for ln in lines)
    assert name == "full"
    assert all(f"cause-number-{i}" in text for i in range(8))
    assert "not shown" not in text


def test_hidden_columns_are_named_with_the_way_to_see_them() -> None:
    name, lines = layout(_grid(), 80, Console(file=StringIO(), width=80))
    text = "\n".join(ln.plain for ln in lines)
    assert name == "hidden"
    shown = _rows(text)[0]
    hidden = [f"cause-number-{i}" for i in range(8) if f"c{i}" not in shown]
    assert hidden and " ".join(text.split()).count("not shown at 80 columns") == 1
    note = " ".join(text[text.index("not shown") :].split())
    assert all(h in note for h in hidden) and "--wide" in note


def test_wrap_items_never_cuts_an_item() -> None:
    items = ["alpha", "a-name-longer-than-the-line-itself", "b", "c"]
    lines = wrap_items(items, 12, indent="  ")
    assert [t.rstrip(",") for ln in lines for t in ln.split()] == items
    assert all(len(ln) <= 12 for ln in lines if "a-name-longer" not in ln)
    assert "  a-name-longer-than-the-line-itself," in lines


# ---- the matrix (check --matrix) -----------------------------------------------------------

KINDS = list(KIND_NAMES)[:7]
POLICIES = ["none", "fb", "flush-on-switch", "flush-1vcpu-only", "fb+last-vcpu-ran", "trap-ttlb"]
VERDICT = {
    (k, p): ("safe" if (i + j) % 3 else f"UNSAFE ({5 + (i * j) % 6})")
    for i, k in enumerate(KINDS)
    for j, p in enumerate(POLICIES)
}


def read_matrix(text: str) -> dict[tuple[str, str], str]:
    """(kind, policy) → verdict, read back from any layout of the matrix."""
    rows = _rows(text)
    if rows:  # a grid: columns are kinds, or letters explained by the legend
        legend = dict(re.findall(r"\b([a-z]{1,2}) = ([\w.+-]+)", text))
        heads = [legend.get(h, h) for h in rows[0][1:]]
        return {(k, r[0]): v for r in rows[1:] for k, v in zip(heads, r[1:], strict=True)}
    out: dict[tuple[str, str], str] = {}
    kind, verdict = "", ""
    for ln in text.splitlines()[1:]:
        if not ln.startswith(" "):
            kind = ln.strip()
            continue
        if not ln.startswith("   "):
            verdict, _, ln = ln.strip().partition(": ")
        for p in ln.replace(",", " ").split():
            out[(kind, p)] = verdict
    return out


@pytest.mark.parametrize("width", [*WIDTHS, 160, None])
def test_matrix_reads_back_whole_at_every_width(width: int | None) -> None:
    g = matrix_grid("title", "policy", POLICIES, KINDS, lambda p, k: verdict_cell(*_v(k, p)))
    name, lines = layout(g, width, Console(file=StringIO(), width=width or 1000))
    text = "\n".join(ln.plain for ln in lines)
    if width is not None:
        _fits(text, width)
    assert read_matrix(text) == VERDICT
    assert name == {80: "stacked", None: "full"}.get(width, name)


def _v(kind: str, policy: str) -> tuple[bool, int | None]:
    v = VERDICT[(kind, policy)]
    return (True, None) if v == "safe" else (False, int(v.split("(")[1].rstrip(")")))


@pytest.mark.parametrize("width", WIDTHS)
def test_check_matrix_cli_at_each_width(
    cli: Any, monkeypatch: pytest.MonkeyPatch, width: int
) -> None:
    """`COLUMNS=W vtlbsim check --matrix` (shallow, to stay fast): every kind × policy verdict
    read back from the text equals the one in --json, and every line fits."""
    monkeypatch.setenv("COLUMNS", str(width))
    args = ["check", "--matrix", "--depth", "4"]
    code, out, err = cli(args)
    assert code == 0, err
    code, js, err = cli([*args, "--json"])
    assert code == 0, err
    expect = {
        (r["kind"], r["policy"]): "safe" if r["safe"] else f"UNSAFE ({len(r['actions'])})"
        for r in json.loads(js)
    }
    table = out[: out.index("UNSAFE (n)")]
    _fits(table, width)
    assert read_matrix(table) == expect


# ---- vtlbsim run -----------------------------------------------------------------------------


@pytest.fixture
def run_json(cli: Any) -> list[dict[str, Any]]:
    code, out, err = cli(["run", CONSOLIDATION, "--all-policies", "--pcpus", "8,96", "--json"])
    assert code == 0, err
    rows: list[dict[str, Any]] = json.loads(out)
    return rows


def _sections(text: str) -> dict[int, list[list[str]]]:
    """pCPUs → the rows of its cost table (the '% of machine cycles' table)."""
    out: dict[int, list[list[str]]] = {}
    for part in re.split(r"^(?=\d+ pCPUs: % of machine cycles)", text, flags=re.M)[1:]:
        n = int(part.split()[0])
        body = part.split(" pCPUs: events over the run")[0]
        out[n] = _rows(body)
    return out


@pytest.mark.parametrize("width", WIDTHS)
def test_run_all_policies_fits_and_names_every_policy_and_verdict(
    cli: Any, monkeypatch: pytest.MonkeyPatch, run_json: list[dict[str, Any]], width: int
) -> None:
    """The issue's check: `COLUMNS=80 vtlbsim run consolidation --all-policies --pcpus 8,96`
    shows every policy with its whole safe/UNSAFE word and overhead (as in --json)."""
    monkeypatch.setenv("COLUMNS", str(width))
    code, out, err = cli(["run", CONSOLIDATION, "--all-policies", "--pcpus", "8,96"])
    assert code == 0, err
    _fits(out, width)
    tables = _sections(out)
    assert sorted(tables) == [8, 96]
    word = {True: "safe", False: "UNSAFE", None: "unknown"}
    for r in run_json:
        head, *rows = tables[r["pcpus"]]
        assert head[:3] == ["policy", "safe", "overhead"]
        row = next(x for x in rows if x[0] == r["policy"])
        assert row[1] == word[r["safe"]]
        assert float(row[2]) == pytest.approx(r["overhead_pct"], rel=1e-2, abs=5e-5)
    if width < 120:
        assert "not shown at" in out and "--wide" in out


def test_run_piped_and_wide_are_complete(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No COLUMNS and no terminal (a pipe), or --wide at 80 columns: every cause column."""
    monkeypatch.delenv("COLUMNS", raising=False)
    for extra, env in (([], None), (["--wide"], "80")):
        if env:
            monkeypatch.setenv("COLUMNS", env)
        code, out, err = cli(["run", CONSOLIDATION, "--all-policies", "--pcpus", "96", *extra])
        assert code == 0, err
        head = _sections(out)[96][0]
        assert {"broadcast-issue", "dvm-others", "bp-retrain", "icache-refill"} <= set(head)
        assert "not shown" not in out
