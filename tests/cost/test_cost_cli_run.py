"""`vtlbsim run` and `vtlbsim platforms`: formats, safety beside cost, bad input → exit 2.

The safety column is the real one (the shipped verdicts or the checker) except where a test is
about combining verdicts; test_cost_cli_safety.py holds it to the hand-derived table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hand_verdicts import hand_verdicts
from vtlbsim.cli.run_cmd import verdict
from vtlbsim.cost.result import CostResult

ROOT = Path(__file__).resolve().parents[2]
CONSOLIDATION = str(ROOT / "examples/workloads/consolidation-arm32-up.toml")
KEYS = {
    "policy",
    "pcpus",
    "overhead_pct",
    "cost_to_others_pct",
    "cycles",
    "events",
    "safe",
    "platform",
}


def test_json_has_one_object_per_policy_and_core_count(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, err = cli(["run", CONSOLIDATION, "--policy", "fb", "--pcpus", "8,96", "--json"])
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["policy"], r["pcpus"]) for r in rows] == [("fb", 8), ("fb", 96)]
    for r in rows:
        assert KEYS <= set(r)
        assert r["platform"] == "thunderx-cn8890-2s"
        # the ThunderX profile reads AArch32 predictors as visible, with FB leaving BPIALL
        # local (the pseudocode): the hand table's default reading, where fb is unsafe
        assert r["safe"] is hand_verdicts()[("linux-arm32-up", "fb")].safe is False
        assert sum(r["cycles"].values()) == pytest.approx(r["total_cycles"])


@pytest.mark.parametrize(
    ("patch", "field", "key"),
    [
        ("duration_s = 60", "duration_s = -1", "duration_s"),
        ('kind = "random-migrate"', 'kind = "sometimes"', "scheduler.kind"),
        ("vcpus = 1", "vcpus = 0", "domains[0].vcpus"),
        ('kind = "linux-arm32-up"', 'kind = "no-such-kind"', "domains[0].kind"),
        ('platform = "thunderx-cn8890-2s"', 'platform = "no-such-box"', "platform"),
        ("count = 200", "count = 200\ncolour = 3", "domains[0].colour"),
    ],
)
def test_bad_workload_exits_2_with_one_line_naming_file_and_field(
    cli,
    tmp_path: Path,
    patch: str,
    field: str,
    key: str,  # type: ignore[no-untyped-def]
) -> None:
    text = Path(CONSOLIDATION).read_text()
    assert patch in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(patch, field))
    code, out, err = cli(["run", str(bad)])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert f"{bad}:" in lines[0] and f": {key}: " in lines[0]
    # the line number points at the offending line
    lineno = int(lines[0].split(f"{bad}:")[1].split(":")[0])
    assert field.splitlines()[-1] == bad.read_text().splitlines()[lineno - 1]


def test_missing_file_and_bad_options_exit_2(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for args in (
        ["run", str(tmp_path / "nope.toml")],
        ["run", CONSOLIDATION, "--pcpus", "8,x"],
        ["run", CONSOLIDATION, "--pcpus", "0"],
        ["run", CONSOLIDATION, "--mode", "psychic"],
        ["run", CONSOLIDATION, "--policy", "no-such-policy"],
        ["platforms", "show", "no-such-box"],
    ):
        code, _, err = cli(args)
        assert code == 2, args
        assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, args


def _r(policy: str, cycles: float, safe: bool | None) -> CostResult:
    return CostResult(
        policy=policy,
        pcpus=8,
        platform="p",
        overhead_pct=cycles / 1e3,
        cost_to_others_pct=0.0,
        cycles={"hyp-flush": cycles},
        events={},
        safe=safe,
        total_cycles=cycles,
        machine_cycles=1e5,
    )


def test_an_unsafe_cheapest_policy_comes_with_a_warning() -> None:
    line, warn = verdict(
        [_r("none", 0, False), _r("mystery", 5, None), _r("good", 10, True), _r("dear", 40, True)]
    )
    assert line.startswith("cheapest safe: good")
    assert "dear costs 4× as much" in line
    assert warn is not None and "none (UNSAFE)" in warn and "mystery (unknown)" in warn
    line2, warn2 = verdict([_r("good", 10, True), _r("none", 20, False)])
    assert line2.startswith("cheapest safe: good") and warn2 is None


def test_platforms_show_lists_every_figure_with_provenance(cli) -> None:  # type: ignore[no-untyped-def]
    from vtlbsim.cost.platform import FIGURES

    code, out, err = cli(["platforms", "show", "thunderx-cn8890-2s", "--json"])
    assert code == 0, err
    data = json.loads(out)
    assert set(data["figures"]) == set(FIGURES)
    assert all(("source" in f) != ("assumption" in f) for f in data["figures"].values())
    code, out, _ = cli(["platforms"])
    assert code == 0 and "thunderx-cn8890-2s" in out and "figures assumed" in out
    code, out, _ = cli(["platforms", "show", "cortex-a57-juno"])
    assert code == 0 and "ASSUMPTION" in out and "source:" in out


USER_KIND = """
name = "my-rtos"
arch = "aarch64"
[discipline]
pte_user = { value = ["vale1"], source = "test" }
asid_flush = { value = ["aside1"], source = "test" }
rollover = { value = ["vmalle1"], source = "test" }
code_change = { value = ["iallu"], source = "test" }
map_exec = { value = [], source = "test" }
ttbr_switch = { value = [], source = "test" }
smp = { value = true, source = "test" }
[rates]
pte_changes_per_s = { value = 100, source = "measured on our board" }
pte_local_fraction = { value = 0, assumption = "no local form" }
asid_flushes_per_s = { value = 1, assumption = "test" }
context_switches_per_s = { value = 100, assumption = "test" }
asid_rollovers_per_s = { value = 0, assumption = "test" }
code_changes_per_s = { value = 1, assumption = "test" }
tlb_working_set_pages = { value = 64, assumption = "test" }
icache_working_set_kib = { value = 8, assumption = "test" }
shared_fraction = { value = 0, assumption = "test" }
"""


def test_user_kind_and_platform_override(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "kinds").mkdir()
    (tmp_path / "kinds" / "rtos.toml").write_text(USER_KIND)
    wl = tmp_path / "w.toml"
    wl.write_text(
        'platform = "graviton2"\nduration_s = 10\n[scheduler]\nkind = "random-migrate"\n'
        'migrations_per_vcpu_s = 5\n[[domains]]\nkind = "kinds/rtos.toml"\ncount = 4\nvcpus = 2\n'
    )
    code, out, err = cli(["run", str(wl), "--policy", "fb", "--json"])
    assert code == 0, err
    (row,) = json.loads(out)
    assert row["platform"] == "graviton2" and row["pcpus"] == 64
    assert row["events"]["fb-upgraded"] > 0
    # the checker reads the kind file: under FB its local VALE1, VMALLE1 and IC IALLU all
    # broadcast, and it has no per-CPU tables, so it is safe (as linux-arm64-local under fb)
    assert row["safe"] is True
    code, out, err = cli(
        ["run", str(wl), "--policy", "fb", "--json", "--platform", "cortex-a57-juno"]
    )
    assert code == 0, err
    (row2,) = json.loads(out)
    assert row2["platform"] == "cortex-a57-juno" and row2["pcpus"] == 2
    code, _, err = cli(["run", str(wl), "--platform", "nowhere"])
    assert code == 2 and "--platform" in err


def test_workload_is_safe_iff_every_kind_is(monkeypatch: pytest.MonkeyPatch) -> None:
    from vtlbsim.cli.run_cmd import workload_safe
    from vtlbsim.cost.workload import DomainGroup, Workload

    table = {("a", "p"): True, ("b", "p"): False, ("c", "p"): None}
    monkeypatch.setattr("vtlbsim.cli.run_cmd._safety_oracle", lambda: lambda k, p: table[(k, p)])

    def w(*kinds: str) -> Workload:
        return Workload(
            platform="graviton2", duration_s=1, domains=[DomainGroup(kind=k) for k in kinds]
        )

    assert workload_safe(w("a", "a"), "p") is True
    assert workload_safe(w("a", "b"), "p") is False
    assert workload_safe(w("c", "b"), "p") is False
    assert workload_safe(w("a", "c"), "p") is None
    monkeypatch.setattr("vtlbsim.cli.run_cmd._safety_oracle", lambda: None)
    assert workload_safe(w("a"), "p") is None
