"""Workload files (cost/workload.py): each bad field gives the one line the user sees — the
file, the line of the offending key, the field, what was expected — and the references (the
platform, each domain's kind and trace) are checked, by hand.

``BASE``, numbered for the expected line numbers (``PLAT`` / ``KIND``: the round test
profile and the quiet guest of ``data/``)::

     1 platform = "PLAT"             8 kind = "KIND"
     2 duration_s = 1                9 count = 2
     3 policy = "fb"                10 [[domains]]
     4 [scheduler]                  11 kind = "KIND"
     5 kind = "round-robin"         12 vcpus = 3
     6 timeslice_ms = 5             13 count = 4
     7 [[domains]]
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.cost.workload import (
    DomainGroup,
    WorkloadError,
    load_workload,
    workload_from_text,
)

DATA = Path(__file__).parent / "data"
PLAT = str(DATA / "anchor-round.toml")
KIND = str(DATA / "anchor-quiet-aarch64.toml")
BASE = f"""platform = "{PLAT}"
duration_s = 1
policy = "fb"
[scheduler]
kind = "round-robin"
timeslice_ms = 5
[[domains]]
kind = "{KIND}"
count = 2
[[domains]]
kind = "{KIND}"
vcpus = 3
count = 4
"""


def test_the_base_file_and_its_vcpus() -> None:
    """2 domains of 1 vCPU and 4 of 3: 2 + 12 = 14 vCPUs; the scheduler's defaults stay
    (no migrations)."""
    wl = workload_from_text(BASE, "w.toml", "/some/dir")
    assert wl.total_vcpus == 14
    assert (wl.scheduler.kind, wl.scheduler.timeslice_ms) == ("round-robin", 5.0)
    assert wl.scheduler.migrations_per_vcpu_s == 0.0
    assert (wl.pcpus, wl.policy, wl.base_dir) == (None, "fb", "/some/dir")
    assert [(d.count, d.vcpus) for d in wl.domains] == [(2, 1), (4, 3)]


BAD = [
    (
        'kind = "round-robin"',
        'kind = "sometimes"',
        ":5: scheduler.kind: expected one of 'pinned', 'round-robin' or 'random-migrate'",
    ),
    (
        "timeslice_ms = 5",
        "timeslice_ms = 5\nquantum = 3",
        ":7: scheduler.quantum: unknown field (expected one of: kind, migrations_per_vcpu_s, "
        "timeslice_ms)",
    ),
    (
        "timeslice_ms = 5",
        "timeslice_ms = 0",
        ":6: scheduler.timeslice_ms: Input should be greater than 0",
    ),
    ("vcpus = 3", "vcpus = 0", ":12: domains[1].vcpus: Input should be greater than or equal to 1"),
    ("count = 2", "count = 0", ":9: domains[0].count: Input should be greater than or equal to 1"),
    (
        "count = 4",
        "count = 4\ncolour = 1",
        ":14: domains[1].colour: unknown field (expected one of: kind, count, vcpus, trace)",
    ),
    (
        'policy = "fb"',
        'policy = "fb"\ncolour = 1',
        ":4: colour: unknown field (expected one of: platform, pcpus, duration_s, policy, "
        "scheduler, domains)",
    ),
    ("duration_s = 1\n", "", ": duration_s: required field is missing"),
    ("duration_s = 1", "duration_s = 0", ":2: duration_s: Input should be greater than 0"),
    (
        "duration_s = 1",
        "duration_s = 1\npcpus = 0",
        ":3: pcpus: Input should be greater than or equal to 1",
    ),
    # the second domain's kind is missing: no line to point at
    (f'kind = "{KIND}"\nvcpus = 3', "vcpus = 3", ": domains[1].kind: required field is missing"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD)
def test_a_bad_workload_names_file_line_and_field(old: str, new: str, message: str) -> None:
    assert old in BASE
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(BASE.replace(old, new, 1), "w.toml")
    assert str(exc.value) == f"w.toml{message}"


def test_inline_tables_point_at_their_top_level_key() -> None:
    """Written inline, a domain or the scheduler is on its top-level key's line (line 3 here):
    a domain that is not a table used to end in an IndexError traceback, and an inline
    scheduler's bad kind pointed at the first domain's ``kind`` line (line 5)."""
    head = f'platform = "{PLAT}"\nduration_s = 1\n'
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(head + "domains = [1]\n", "w.toml")
    assert str(exc.value).startswith("w.toml:3: domains[0]: Input should be a valid dictionary")
    text = head + f'scheduler = {{ kind = "sometimes" }}\n[[domains]]\nkind = "{KIND}"\n'
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert str(exc.value) == (
        "w.toml:3: scheduler.kind: expected one of 'pinned', 'round-robin' or 'random-migrate'"
    )
    text = head + f'domains = [{{ kind = "{KIND}", count = 0 }}]\n'
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert (
        str(exc.value) == "w.toml:3: domains[0].count: Input should be greater than or equal to 1"
    )


def test_a_key_quoted_in_the_file_is_found() -> None:
    text = BASE.replace("vcpus = 3", '"vcpus" = -3')
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert (
        str(exc.value) == "w.toml:12: domains[1].vcpus: Input should be greater than or equal to 1"
    )


def test_bad_toml_names_its_line() -> None:
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(BASE.replace("count = 2", "count = = 2"), "w.toml")
    assert str(exc.value).startswith("w.toml:9: not valid TOML: ")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            f'platform = "{PLAT}"',
            'platform = "no-such-box"',
            ":1: platform: unknown platform 'no-such-box'",
        ),
        (f'kind = "{KIND}"\nvcpus', 'kind = "no-such-kind"\nvcpus', ":11: domains[1].kind: "),
        (
            "count = 2",
            'count = 2\ntrace = "gone.npz"',
            ":10: domains[0].trace: {dir}/gone.npz: no such trace file",
        ),
    ],
)
def test_references_must_exist(tmp_path: Path, old: str, new: str, message: str) -> None:
    """The platform, each domain's kind and trace (relative to the file's directory) must
    exist; the error is on the line of the field that names them."""
    assert old in BASE
    f = tmp_path / "w.toml"
    f.write_text(BASE.replace(old, new, 1))
    with pytest.raises(WorkloadError) as exc:
        load_workload(f)
    assert str(exc.value).startswith(f"{f}{message.format(dir=tmp_path.resolve())}")


def test_a_relative_trace_is_made_absolute_against_the_file(tmp_path: Path) -> None:
    """``trace = "t/run.npz"`` in ``DIR/w.toml`` is ``DIR/t/run.npz`` once loaded, so a copy of
    the workload without its directory still finds it; a domain without a trace keeps None."""
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "run.npz").write_bytes(b"")
    f = tmp_path / "w.toml"
    f.write_text(BASE.replace("count = 2", 'count = 2\ntrace = "t/run.npz"', 1))
    wl = load_workload(f)
    assert wl.domains[0].trace == str(tmp_path.resolve() / "t" / "run.npz")
    assert wl.domains[1].trace is None
    assert wl.base_dir == str(tmp_path.resolve())


def test_trace_path_rules() -> None:
    """Relative to ``base_dir`` when one is given; absolute or without a base: as written;
    ``~`` expanded; no trace: None."""
    assert DomainGroup(kind="k").trace_path("/base") is None
    assert DomainGroup(kind="k", trace="a/t.npz").trace_path("/base") == Path("/base/a/t.npz")
    assert DomainGroup(kind="k", trace="/abs/t.npz").trace_path("/base") == Path("/abs/t.npz")
    assert DomainGroup(kind="k", trace="a/t.npz").trace_path("") == Path("a/t.npz")
    assert DomainGroup(kind="k", trace="~/t.npz").trace_path("/base") == Path.home() / "t.npz"


def test_an_unreadable_workload_file(tmp_path: Path) -> None:
    with pytest.raises(WorkloadError) as exc:
        load_workload(tmp_path / "none.toml")
    assert str(exc.value) == (
        f"{tmp_path / 'none.toml'}: cannot read workload file: No such file or directory"
    )


def test_a_field_missing_from_a_table_is_not_looked_for_in_the_next() -> None:
    """domains[0] without its kind (domains[1], indented, has one): no line; an empty first
    [[domains]] right before the next one: no line either; a platform written only inside a
    domain (where it does not belong) is not the top-level one; ``domains = []``: its line."""
    text = BASE.replace(f'kind = "{KIND}"\ncount = 2', "count = 2").replace(
        "[[domains]]\nkind", "  [[domains]]\nkind"
    )
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert str(exc.value) == "w.toml: domains[0].kind: required field is missing"
    text = BASE.replace("[[domains]]\n", "[[domains]]\n[[domains]]\n", 1)
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert str(exc.value) == "w.toml: domains[0].kind: required field is missing"
    text = (
        BASE.replace(f'platform = "{PLAT}"\n', "")
        .replace("count = 2", f'count = 2\nplatform = "{PLAT}"')
        .replace("\n[", "\n  [")
    )
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert str(exc.value) == "w.toml: platform: required field is missing"
    text = f'platform = "{PLAT}"\nduration_s = 1\ndomains = []\n'
    with pytest.raises(WorkloadError) as exc:
        workload_from_text(text, "w.toml")
    assert str(exc.value) == (
        "w.toml:3: domains: List should have at least 1 item after validation, not 0"
    )


def test_a_relative_platform_is_beside_the_workload_file(tmp_path: Path) -> None:
    """``platform = "boxes/round.toml"`` in ``DIR/w.toml`` is ``DIR/boxes/round.toml``, whatever
    the working directory; so is a domain's ``kind = "boxes/quiet.toml"``."""
    from vtlbsim.cost.platform import forget_profiles

    (tmp_path / "boxes").mkdir()
    (tmp_path / "boxes" / "round.toml").write_text(Path(PLAT).read_text())
    f = tmp_path / "w.toml"
    (tmp_path / "boxes" / "quiet.toml").write_text(Path(KIND).read_text())
    f.write_text(
        BASE.replace(f'platform = "{PLAT}"', 'platform = "boxes/round.toml"').replace(
            f'kind = "{KIND}"', 'kind = "boxes/quiet.toml"'
        )
    )
    try:
        wl = load_workload(f)
        assert wl.platform == "boxes/round.toml" and wl.base_dir == str(tmp_path.resolve())
    finally:
        forget_profiles()
