"""The safety matrix's rules (``check/matrix.py``), each expectation worked out by hand: which
predictor reading a verdict depends on and how it is named, when a stored verdict is used,
where the verdict cache lives and what it keeps, and what ``write_cache`` recomputes.

Stored verdicts are written here with the fingerprints the sources have *now*
(``pair_fingerprint`` in the test), so the tests hold wherever the package is (a mutated copy
included); the verdicts in them are hand-derived (test_explore_expectations.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from vtlbsim import datafiles
from vtlbsim.arch.ops import DEFAULT_BP, BpReading
from vtlbsim.check import matrix
from vtlbsim.check.matrix import Options, VerdictCache, pair_fingerprint
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.hyp.registry import all_policies

INVISIBLE = BpReading(False, False)
VISIBLE_FB = BpReading(True, True)
UP = "linux-arm32-up"
"""An AArch32 kind: its verdicts depend on the predictor reading. Under ``none`` it is unsafe
(H1, 7 actions: test_explore_expectations.py) whatever the reading: the stale TLB entry after
a local TLBIMVA on another pCPU needs no predictor."""
PERCPU = "percpu-tables"
"""An AArch64 kind: unsafe under ``none`` (H2, 5 actions)."""


@pytest.fixture
def fresh_caches() -> Iterator[None]:
    """Forget what earlier tests read from ``safety.json`` and asked ``safe``, before and after."""
    clear = (matrix._cached_verdicts, matrix._shipped_results, matrix.safe)
    for f in clear:
        f.cache_clear()
    yield
    for f in clear:
        f.cache_clear()


def _no_check(*args: object, **kw: object) -> matrix.CheckResult:
    raise AssertionError(f"checked {args}, not read from the stored verdicts")


# ---- readings and subjects ----------------------------------------------------------------


def test_an_aarch64_kinds_verdict_never_depends_on_the_reading() -> None:
    """An AArch64 guest keeps no predictor state the checker models: the default reading."""
    assert matrix.reading_for(PERCPU, INVISIBLE) == DEFAULT_BP
    assert matrix.reading_for("linux-arm64-smp", VISIBLE_FB) == DEFAULT_BP
    assert matrix.subject(PERCPU, INVISIBLE) == PERCPU


def test_an_aarch32_kind_is_asked_about_under_its_reading() -> None:
    """An AArch32 kind keeps the reading, spelt one way (``invisible`` whatever FB would do),
    and is named ``KIND@READING`` unless the reading is the default."""
    assert matrix.reading_for(UP, BpReading(False, True)) == INVISIBLE
    assert matrix.reading_for(UP, VISIBLE_FB) == VISIBLE_FB
    assert matrix.subject(UP) == UP
    assert matrix.subject(UP, DEFAULT_BP) == UP
    assert matrix.subject(UP, INVISIBLE) == f"{UP}@invisible"
    assert matrix.subject(UP, VISIBLE_FB) == f"{UP}@visible-fb"


def test_a_kind_that_does_not_load_gets_the_default_reading() -> None:
    assert matrix.reading_for("no-such-kind", INVISIBLE) == DEFAULT_BP
    assert matrix.subject("no-such-kind", INVISIBLE) == "no-such-kind"


def test_a_subject_splits_at_its_last_at_sign() -> None:
    """``KIND@READING``: the reading is what follows the last ``@``; an unknown reading is no
    subject; no ``@`` is the default reading."""
    assert matrix._parse_subject(UP) == (UP, DEFAULT_BP)
    assert matrix._parse_subject(f"{UP}@invisible") == (UP, INVISIBLE)
    assert matrix._parse_subject("dir@x/k.toml@visible-fb") == ("dir@x/k.toml", VISIBLE_FB)
    assert matrix._parse_subject(f"{UP}@nope") is None


def test_safe_says_none_for_what_it_cannot_answer(fresh_caches: None) -> None:
    assert matrix.safe(f"{UP}@nope", "none") is None
    assert matrix.safe(UP, "no-such-policy") is None
    assert matrix.safe("no-such-kind", "none") is None


# ---- stored verdicts ----------------------------------------------------------------------


def _row(kind: str, policy: str, safe: bool, bp: BpReading = DEFAULT_BP) -> dict[str, object]:
    row: dict[str, object] = {"kind": kind, "policy": policy, "safe": safe}
    if bp != DEFAULT_BP:
        row["bp"] = bp.name
    row["fingerprint"] = pair_fingerprint(kind, policy, Options(bp=bp.name))
    return row


def _write(
    path: Path, verdicts: list[object], other: list[object] | None = None, **size: int
) -> Path:
    doc = {
        "pcpus": matrix.DEFAULT_PCPUS,
        "vcpus": matrix.DEFAULT_VCPUS,
        "depth": matrix.DEFAULT_DEPTH,
        "vas": 1,
        "verdicts": verdicts,
        "other_readings": other or [],
    } | size
    path.write_text(json.dumps(doc))
    return path


def test_stored_verdicts_are_read_under_both_readings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """A current row is taken as it is stored (here deliberately the opposite of the checker's
    answer, to see that ``safe`` reads it rather than checks): the default reading's under the
    kind's name, another reading's under ``KIND@READING``. A kind file at a path is never
    answered from the stored verdicts of the built-in it copies: it is checked (H1: unsafe)."""
    rows = [_row(UP, "none", True), _row(PERCPU, "none", True)]
    other = [_row(UP, "none", True, INVISIBLE)]
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", rows, other))
    assert matrix._cached_verdicts() == {
        (UP, "none"): True,
        (PERCPU, "none"): True,
        (f"{UP}@invisible", "none"): True,
    }
    assert matrix.safe(UP, "none") is True
    assert matrix.safe(f"{UP}@invisible", "none") is True
    copy = tmp_path / f"{UP}.toml"
    copy.write_text((datafiles.package_dir(datafiles.GUESTS) / f"{UP}.toml").read_text())
    assert matrix.safe(str(copy), "none") is False


def test_rows_of_another_size_or_shape_are_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """Verdicts at another depth, VA count or machine size answer another question; a file that
    is not an object, or not JSON, or absent, holds none; a row without its kind is skipped."""
    rows = [_row(UP, "none", True)]
    for size in ({"depth": 9}, {"vas": 2}, {"pcpus": 3}, {"vcpus": 1}):
        monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", rows, **size))
        assert matrix._shipped_rows() == [], size
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", [], rows))
    assert [r["kind"] for r in matrix._shipped_rows()] == [UP]
    no_lists = _write(tmp_path / "s.json", [])
    no_lists.write_text(
        json.dumps(
            {
                k: v
                for k, v in json.loads(no_lists.read_text()).items()
                if k not in ("verdicts", "other_readings")
            }
        )
    )
    monkeypatch.setattr(matrix, "CACHE", no_lists)
    assert matrix._shipped_rows() == []
    (tmp_path / "list.json").write_text("[]")
    (tmp_path / "bad.json").write_text("{")
    for name in ("list.json", "bad.json", "absent.json"):
        monkeypatch.setattr(matrix, "CACHE", tmp_path / name)
        assert matrix._shipped_rows() == []
    broken = {"policy": "none", "safe": True, "fingerprint": "0" * 64}
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", [broken, *rows]))
    assert matrix._cached_verdicts() == {(UP, "none"): True}


def test_a_shipped_result_is_found_by_fingerprint_and_pair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """``shipped_result`` gives the whole stored result for the fingerprint asked, if it is the
    pair asked; a result that does not read back is none."""
    r = matrix.check(PERCPU, "none", depth=5)  # H2: 5 actions
    row = _row(PERCPU, "none", False) | {"result": r.to_json()}
    fp = str(row["fingerprint"])
    bad = _row(UP, "none", False) | {"result": {"kind": UP}}
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", [row, bad]))
    got = matrix.shipped_result(fp, PERCPU, "none")
    assert got is not None and got.from_cache and not got.safe and len(got.actions) == 5
    assert matrix.shipped_result(fp, PERCPU, "fb") is None
    assert matrix.shipped_result("0" * 64, PERCPU, "none") is None
    assert matrix.shipped_result(str(bad["fingerprint"]), UP, "none") is None


# ---- fingerprints ---------------------------------------------------------------------------


def test_every_option_is_part_of_a_pair_fingerprint() -> None:
    """Changing any one option, the kind or the policy changes the fingerprint; the same
    question asked twice has the same one."""
    base = pair_fingerprint(UP, "none", Options())
    assert base == pair_fingerprint(UP, "none") == pair_fingerprint(UP, "none", Options())
    others = [
        Options(pcpus=3),
        Options(vcpus=1),
        Options(depth=9),
        Options(vas=2),
        Options(incomplete=True),
        Options(globals=True),
        Options(asid_flush=True),
        Options(bp="invisible"),
        Options(vms=2),
    ]
    fps = {pair_fingerprint(UP, "none", o) for o in others}
    fps |= {pair_fingerprint(PERCPU, "none"), pair_fingerprint(UP, "fb")}
    assert len(fps) == len(others) + 2 and base not in fps


def test_a_kinds_fingerprint_is_its_behaviour_not_its_prose(tmp_path: Path) -> None:
    """A kind file with another description and other rates replays the same: the same kind
    fingerprint; another instruction is another fingerprint."""
    text = (datafiles.package_dir(datafiles.GUESTS) / f"{UP}.toml").read_text()
    reworded = tmp_path / "reworded.toml"
    reworded.write_text(
        text.replace('description = "', 'description = "reworded: ').replace(
            "value = 500.0", "value = 400.0"
        )
    )
    assert reworded.read_text() != text
    assert matrix.kind_fingerprint(str(reworded)) == matrix.kind_fingerprint(UP)
    changed = tmp_path / "changed.toml"
    changed.write_text(
        text.replace("ttbr_switch = { value = []", 'ttbr_switch = { value = ["bpiall"]')
    )
    assert changed.read_text() != text
    assert matrix.kind_fingerprint(str(changed)) != matrix.kind_fingerprint(UP)


def test_the_matrix_stamp_is_one_digest() -> None:
    assert len(matrix.fingerprint()) == 64 and matrix.fingerprint() == matrix.fingerprint()
    assert len(matrix.core_fingerprint()) == 64 != len(set(matrix.core_fingerprint()))


# ---- the verdict cache folder -------------------------------------------------------------


def test_the_cache_folder_is_the_environments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``$VTLBSIM_CACHE``, else ``$XDG_CACHE_HOME/vtlbsim/check``, else
    ``~/.cache/vtlbsim/check``; an empty variable counts as unset."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VTLBSIM_CACHE", str(tmp_path / "v"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert VerdictCache.default_folder() == tmp_path / "v"
    monkeypatch.setenv("VTLBSIM_CACHE", "")
    assert VerdictCache.default_folder() == tmp_path / "x" / "vtlbsim" / "check"
    monkeypatch.delenv("VTLBSIM_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    assert VerdictCache.default_folder() == tmp_path / "home" / ".cache" / "vtlbsim" / "check"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert VerdictCache.default_folder() == tmp_path / "home" / ".cache" / "vtlbsim" / "check"


def test_the_cache_keeps_one_whole_file_per_fingerprint(tmp_path: Path) -> None:
    """``put`` makes the folder (and its parents), leaves one ``FP.json`` and no temporary
    file; ``get`` reads it back; an absent or unreadable entry is none."""
    cache = VerdictCache(tmp_path / "a" / "b")
    assert cache.get("f" * 64) is None
    r = matrix.check(PERCPU, "none", depth=5)
    cache.put("f" * 64, r)
    assert [p.name for p in (tmp_path / "a" / "b").iterdir()] == ["f" * 64 + ".json"]
    got = cache.get("f" * 64)
    assert got is not None and got.from_cache and (got.safe, got.actions) == (False, r.actions)
    (tmp_path / "a" / "b" / ("e" * 64 + ".json")).write_text("{not json")
    assert cache.get("e" * 64) is None
    (tmp_path / "a" / "b" / ("d" * 64 + ".json")).write_text("{}")
    assert cache.get("d" * 64) is None


# ---- safety_matrix and write_cache ---------------------------------------------------------


def test_safety_matrix_at_another_size_runs_the_checker() -> None:
    """Depth 4 is one action short of H2, depth 5 finds it (hand-derived in
    test_search_modules.py)."""
    assert matrix.safety_matrix([PERCPU], ["none"], depth=4) == {(PERCPU, "none"): True}
    assert matrix.safety_matrix([PERCPU], ["none"], depth=5) == {(PERCPU, "none"): False}


def _all_current_rows() -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """A row per built-in pair and reading, stamped with today's fingerprints; the verdict
    ``safe`` here is a placeholder (these rows are kept, never recomputed)."""
    a32 = [UP, "linux-arm32-smp", "freebsd-armv7-up", "freebsd-armv7-smp"]
    verdicts = [_row(k, p, True) for k in KIND_NAMES for p in all_policies()]
    other = [
        _row(k, p, True, bp)
        for bp in (VISIBLE_FB, INVISIBLE)
        for k in KIND_NAMES
        if k in a32
        for p in all_policies()
    ]
    return verdicts, other


def test_write_cache_recomputes_only_the_pairs_it_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every current row is kept as it was (a row without a fingerprint, or not a row at all,
    is dropped); the two rows taken out (percpu-tables under
    ``none`` at the default reading, the UP kernel under ``none`` read ``invisible``) are the
    only pairs checked, and come back with their hand-derived verdicts: H2 in 5 actions, H1
    (through the TLB, the predictor being invisible) in 7. The file keeps the default size,
    the kinds in SPEC order and the policies in registry order, the default reading first."""
    verdicts, other = _all_current_rows()
    drop = [
        next(r for r in verdicts if (r["kind"], r["policy"]) == (PERCPU, "none")),
        next(r for r in other if (r["kind"], r["policy"], r["bp"]) == (UP, "none", "invisible")),
    ]
    stray = {"kind": UP, "policy": "none", "safe": True}  # no fingerprint: never kept
    path = _write(
        tmp_path / "s.json",
        [stray, *(r for r in verdicts if r is not drop[0])],
        [r for r in other if r is not drop[1]] + ["not a row"],
    )
    checked: list[tuple[str, str, str]] = []
    real = matrix._check_pair

    def recording(kind: str, policy: str, opts: Options) -> matrix.CheckResult:
        checked.append((kind, policy, opts.bp))
        if len(checked) > 2:  # fail at once rather than recompute the whole matrix
            raise AssertionError(f"recomputed {checked}")
        return real(kind, policy, opts)

    monkeypatch.setattr(matrix, "_check_pair", recording)
    matrix.write_cache(path)
    assert sorted(checked) == [(UP, "none", "invisible"), (PERCPU, "none", "visible")]
    text = path.read_text()
    assert text.startswith('{\n "pcpus": 2,\n "vcpus": 2,\n') and text.endswith("}\n")
    data = json.loads(text)
    assert (data["pcpus"], data["vcpus"], data["depth"], data["vas"]) == (2, 2, 10, 1)
    assert [(r["kind"], r["policy"]) for r in data["verdicts"]] == [
        (k, p) for k in KIND_NAMES for p in all_policies()
    ]
    assert [(r["kind"], r["policy"], r["bp"]) for r in data["other_readings"]] == [
        (r["kind"], r["policy"], r["bp"]) for r in other
    ]
    new = {
        (r["kind"], r["policy"], r.get("bp")): r for r in data["verdicts"] + data["other_readings"]
    }
    h2, h1 = new[(PERCPU, "none", None)], new[(UP, "none", "invisible")]
    assert (h2["safe"], h2["actions"], h2["fingerprint"]) == (False, 5, drop[0]["fingerprint"])
    assert (h1["safe"], h1["actions"], h1["fingerprint"]) == (False, 7, drop[1]["fingerprint"])
    assert set(h2) == {"kind", "policy", "safe", "states", "actions", "fingerprint", "result"}
    assert h2["states"] == h2["result"]["states"] > 0
    assert h2["result"]["seconds"] == 0.0 and h2["result"]["kind"] == PERCPU
    assert h1["result"]["bp"] == "invisible" and list(h1)[:3] == ["kind", "policy", "bp"]
    kept = [r for r in data["verdicts"] + data["other_readings"] if r not in (h1, h2)]
    assert kept == [r for r in verdicts + other if r not in drop]


def test_write_cache_starts_from_nothing_when_there_is_no_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With the built-ins narrowed to per-CPU tables and ``none`` (no AArch32 kind, so no other
    reading), a missing file, an empty object and a file that is not JSON all give one check
    and one row: H2, unsafe in 5 actions."""
    monkeypatch.setattr(matrix, "KIND_NAMES", [PERCPU])
    monkeypatch.setattr(matrix, "all_policies", lambda: ["none"])
    (tmp_path / "empty.json").write_text("{}")
    (tmp_path / "bad.json").write_text("{")
    for name in ("absent.json", "empty.json", "bad.json"):
        matrix.write_cache(tmp_path / name)
        data = json.loads((tmp_path / name).read_text())
        assert [(r["kind"], r["policy"], r["safe"], r["actions"]) for r in data["verdicts"]] == [
            (PERCPU, "none", False, 5)
        ], name
        assert data["other_readings"] == []


def test_safety_matrix_at_the_default_size_answers_from_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """At the default size every pair is ``safe(kind, policy)``, which reads the stored
    verdicts: here every row says safe (a placeholder, the opposite of H1 and H2 under
    ``none``), and that is what comes back, for every kind and every policy when none are
    named."""
    verdicts, other = _all_current_rows()
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", verdicts, other))
    monkeypatch.setattr(matrix, "check", _no_check)
    every = {(k, p): True for k in KIND_NAMES for p in all_policies()}
    assert matrix.safety_matrix() == every
    assert matrix.safety_matrix([UP, PERCPU], ["none"]) == {
        (UP, "none"): True,
        (PERCPU, "none"): True,
    }


def test_a_pair_is_checked_with_the_options_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``matrix_results`` hands every option to the checker unchanged (and files the result
    under the fingerprint of all of them), and its defaults are
    the default size and no option (one VA, complete maintenance, no global page, no ASID
    flush, the default predictor reading, one VM)."""
    asked: list[tuple[tuple[object, ...], dict[str, object]]] = []
    real = matrix.check

    def recording(*args: object, **kw: object) -> matrix.CheckResult:
        asked.append((args, kw))
        return real(*args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(matrix, "check", recording)
    cache = VerdictCache(tmp_path)
    matrix.matrix_results([UP], ["xen"], 2, 1, 2, 2, 1, cache, None, True, True, True, INVISIBLE, 2)
    every = Options(2, 1, 2, 2, True, True, True, "invisible", 2)
    assert [f.stem for f in tmp_path.iterdir()] == [pair_fingerprint(UP, "xen", every)]
    matrix.matrix_results([PERCPU], ["none"], depth=2)
    defaults = {"vas": 1, "incomplete": False, "globals": False, "asid_flush": False}
    assert asked == [
        (
            (UP, "xen", 2, 1, 2),
            {"vas": 2, "incomplete": True, "globals": True, "asid_flush": True}
            | {"bp": INVISIBLE, "vms": 2},
        ),
        ((PERCPU, "none", 2, 2, 2), defaults | {"bp": DEFAULT_BP, "vms": 1}),
    ]


def test_an_empty_cache_is_seeded_from_a_current_stored_result(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_caches: None
) -> None:
    """A stored row with today's fingerprint and its whole result (H2: 5 actions) answers
    ``matrix_results`` at the default size without a check, is told to ``progress`` as pair 1
    of 1, and is kept in the cache under its fingerprint; another pair is not answered by it."""
    r = matrix.check(PERCPU, "none")
    row = _row(PERCPU, "none", False) | {"result": r.to_json()}
    monkeypatch.setattr(matrix, "CACHE", _write(tmp_path / "s.json", [row]))
    monkeypatch.setattr(matrix, "_check_pair", _no_check)
    told: list[tuple[str, int, int]] = []
    cache = VerdictCache(tmp_path / "c")
    got = matrix.matrix_results(
        [PERCPU], ["none"], cache=cache, progress=lambda x, d, t: told.append((x.kind, d, t))
    )
    assert [(x.from_cache, x.safe, len(x.actions)) for x in got] == [(True, False, 5)]
    assert told == [(PERCPU, 1, 1)]
    assert [f.name for f in (tmp_path / "c").iterdir()] == [f"{row['fingerprint']}.json"]
    kept = cache.get(str(row["fingerprint"]))
    assert kept is not None and kept.actions == r.actions
    with pytest.raises(AssertionError, match="not read from the stored verdicts"):
        matrix.matrix_results([PERCPU], ["fb"], cache=cache)
