"""Guest kinds as data files: every built-in is a TOML file whose every discipline entry cites
its source; a malformed kind file is refused with one line naming the file and the key; a kind
written only as a file is checked and priced like a built-in."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from vtlbsim import datafiles
from vtlbsim.check.explore import check
from vtlbsim.guest.kinds import (
    FLAG_KEYS,
    KIND_NAMES,
    OP_KEYS,
    OPTIONAL,
    KindError,
    builtin,
    load_kind,
)

SHIPPED = datafiles.package_dir(datafiles.GUESTS)


def test_the_builtin_kinds_are_the_shipped_files() -> None:
    assert sorted(KIND_NAMES) == sorted(p.stem for p in SHIPPED.glob("*.toml"))


@pytest.mark.parametrize("name", KIND_NAMES)
def test_every_builtin_entry_cites_its_source(name: str) -> None:
    """Each discipline key the file gives is ``{ value, source }`` with a non-empty source, and
    every key a kind may not leave out is there."""
    raw = tomllib.loads((SHIPPED / f"{name}.toml").read_text())
    assert raw["name"] == name and raw["description"].strip()
    disc = raw["discipline"]
    for key, entry in disc.items():
        assert set(entry) == {"value", "source"} and entry["source"].strip(), key
    assert {k for k in [*OP_KEYS, *FLAG_KEYS] if k not in OPTIONAL} <= set(disc)
    d = builtin(name)
    assert set(d.citations) == set(disc)


def _kind_text(name: str, **replace: str) -> str:
    """A built-in kind's file with some ``[discipline]`` lines replaced (``key=None`` drops)."""
    out = []
    for line in (SHIPPED / f"{name}.toml").read_text().splitlines():
        key = line.split("=", 1)[0].strip()
        if key in replace:
            if replace[key]:
                out.append(replace[key])
            continue
        out.append(line)
    return "\n".join(out) + "\n"


BAD = [
    # (what is wrong, the replacement, the key the message names, what it says)
    (
        "unknown instruction",
        {"pte_user": 'pte_user = { value = ["tlbimvx"], source = "x.c: f" }'},
        "discipline.pte_user",
        "unknown instruction 'tlbimvx'",
    ),
    (
        "instruction of the other architecture",
        {"code_change": 'code_change = { value = ["ivau", "bpiall"], source = "x.c: f" }'},
        "discipline.code_change",
        "'bpiall' is an aarch32 instruction, not aarch64",
    ),
    (
        "unknown key",
        {
            "smp": 'smp = { value = true, source = "x.c: f" }\nflush_on_exit = { value = [], source = "x" }'
        },
        "discipline.flush_on_exit",
        "unknown key",
    ),
    (
        "missing citation",
        {"rollover": 'rollover = { value = ["vmalle1"] }'},
        "discipline.rollover",
        "missing citation",
    ),
    (
        "a bare list (no citation)",
        {"pte_user": 'pte_user = ["vale1is"]'},
        "discipline.pte_user",
        "expected { value = [...], source",
    ),
    ("a required key left out", {"map_exec": ""}, "discipline.map_exec", "required key is missing"),
    (
        "a flag that is not true or false",
        {"smp": 'smp = { value = "yes", source = "x.c: f" }'},
        "discipline.smp",
        "expected value = true or false",
    ),
]


@pytest.mark.parametrize(("why", "replace", "key", "says"), BAD, ids=[b[0] for b in BAD])
def test_a_malformed_kind_file_is_refused_with_one_line(
    cli, tmp_path: Path, why: str, replace: dict[str, str], key: str, says: str
) -> None:  # type: ignore[no-untyped-def]
    """``check --guest FILE`` and ``guests show FILE`` exit 2 with one line on stderr that names
    the file and the key."""
    p = tmp_path / "bad.toml"
    p.write_text(_kind_text("linux-arm64-smp", **replace))
    with pytest.raises(KindError, match="bad.toml"):
        load_kind(str(p))
    for args in (["check", "--guest", str(p), "--policy", "fb"], ["guests", "show", str(p)]):
        code, out, err = cli(args)
        assert code == 2, (why, args, out)
        lines = err.strip().splitlines()
        assert len(lines) == 1, err
        assert str(p) in lines[0] and key in lines[0] and says in lines[0], lines[0]


def _copy(name: str, tmp_path: Path, new_name: str) -> Path:
    text = (
        (SHIPPED / f"{name}.toml").read_text().replace(f'name = "{name}"', f'name = "{new_name}"')
    )
    p = tmp_path / f"{new_name}.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("policy", ["none", "fb", "last-vcpu-ran", "flush-on-migrate", "xvisor"])
def test_a_user_kind_equal_to_a_builtin_gives_the_same_verdicts(
    tmp_path: Path, policy: str
) -> None:
    """The checker builds its guest from the discipline alone: a copy of linux-arm32-up under
    another name is explored exactly as the built-in (same verdict, same number of states,
    same counterexample)."""
    p = _copy("linux-arm32-up", tmp_path, "my-arm32")
    mine = check(str(p), policy, depth=8)
    ref = check("linux-arm32-up", policy, depth=8)
    assert (mine.safe, mine.states, mine.actions) == (ref.safe, ref.states, ref.actions)
    if not mine.safe:
        assert mine.counterexample is not None and ref.counterexample is not None
        assert mine.counterexample.events == ref.counterexample.events


def test_a_user_kind_is_priced_and_checked_like_the_builtin(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A workload naming the copied file costs what the built-in costs, and `run` shows the
    checker's verdict for it (linux-arm32-up under `none` is H1: unsafe)."""
    p = _copy("linux-arm32-up", tmp_path, "my-arm32")
    rows = {}
    for kind in ("linux-arm32-up", p.name):
        wl = tmp_path / f"w-{kind}.toml"
        wl.write_text(
            'platform = "thunderx-cn8890-2s"\nduration_s = 10\n[scheduler]\n'
            'kind = "random-migrate"\nmigrations_per_vcpu_s = 50\n'
            f'[[domains]]\nkind = "{kind}"\ncount = 8\nvcpus = 1\n'
        )
        code, out, err = cli(["run", str(wl), "--policy", "none", "--pcpus", "8", "--json"])
        assert code == 0, err
        (rows[kind],) = json.loads(out)
    a, b = rows["linux-arm32-up"], rows[p.name]
    assert a["cycles"] == b["cycles"] and a["overhead_pct"] == b["overhead_pct"]
    assert b["safe"] is False and a["safe"] is False


def test_guests_lists_and_shows_every_kind(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(["guests"])
    assert code == 0, err
    for name in KIND_NAMES:
        assert name in out
    code, out, err = cli(["guests", "show", "freebsd-armv7-up", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert data["discipline"]["ttbr_switch"]["value"] == ["tlbiasid", "tlbiasid", "bpiall"]
    assert "swtch-v6.S" in data["discipline"]["ttbr_switch"]["source"]
    code, _, err = cli(["guests", "show", "no-such-kind"])
    assert code == 2 and "no-such-kind" in err


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "guests"


def test_the_example_kind_file_is_checked_and_priced(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """examples/guests/linux-arm32-up-bpiall-switch.toml adds Spectre-v2's BPIALL to every
    switch_mm of a UP kernel. One vCPU: every return to a pCPU is a migration, which
    flush-on-migrate meets with IC IALLU (the predictor too): safe. Under FB that BPIALL stays
    local (default reading), as the code change's does: unsafe. `run` prices the file and
    shows the same verdict."""
    kind = str(EXAMPLE / "linux-arm32-up-bpiall-switch.toml")
    code, out, _ = cli(["check", "--guest", kind, "--policy", "flush-on-migrate", "--depth", "8"])
    assert code == 0 and "safe up to depth 8" in out
    code, out, _ = cli(["check", "--guest", kind, "--policy", "fb", "--depth", "8"])
    assert code == 1 and "stale-bp" in out
    wl = tmp_path / "w.toml"
    wl.write_text(
        'platform = "thunderx-cn8890-2s"\nduration_s = 10\n[scheduler]\nkind = "random-migrate"\n'
        f'migrations_per_vcpu_s = 50\n[[domains]]\nkind = "{kind}"\ncount = 8\n'
    )
    code, out, err = cli(["run", str(wl), "--policy", "fb", "--pcpus", "8", "--json"])
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["safe"] is False and row["events"]["guest-maintenance"] > 0
