"""Predictor visibility and what HCR_EL2.FB does to BPIALL are platform properties
(``bp_visible``, ``bpiall_fb_upgrade``): the engine, the checker and the cost model all follow
the platform's reading (arch.ops.BpReading, docs/guests.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vtlbsim.arch.ops import BpReading
from vtlbsim.check.explore import check
from vtlbsim.cost import evaluate
from vtlbsim.cost.platform import PROFILE_DIR, load_platform
from vtlbsim.cost.workload import load_workload
from vtlbsim.guest.kinds import KIND_NAMES, builtin
from vtlbsim.guest.rates import load_rates
from vtlbsim.hyp.registry import all_policies

AARCH32 = [k for k in KIND_NAMES if builtin(k).arch.value == "aarch32"]


def _platform(tmp_path: Path, visible: bool, upgrade: bool) -> Path:
    """thunderx-cn8890-2s with the two predictor figures set as asked."""
    lines = []
    for line in (PROFILE_DIR / "thunderx-cn8890-2s.toml").read_text().splitlines():
        if line.startswith("bp_visible"):
            line = f'bp_visible = {{ value = {str(visible).lower()}, assumption = "test" }}'
        elif line.startswith("bpiall_fb_upgrade"):
            line = f'bpiall_fb_upgrade = {{ value = {str(upgrade).lower()}, assumption = "test" }}'
        lines.append(line)
    p = tmp_path / f"tx-{visible}-{upgrade}.toml"
    p.write_text("\n".join(lines) + "\n")
    return p


def _workload(tmp_path: Path, platform: Path, kind: str, vcpus: int = 1) -> Path:
    wl = tmp_path / f"w-{platform.stem}-{kind}.toml"
    wl.write_text(
        f'platform = "{platform}"\nduration_s = 10\n[scheduler]\nkind = "random-migrate"\n'
        f'migrations_per_vcpu_s = 50\n[[domains]]\nkind = "{kind}"\ncount = 16\nvcpus = {vcpus}\n'
    )
    return wl


@pytest.mark.parametrize("kind", AARCH32)
def test_invisible_predictors_cost_no_retraining(tmp_path: Path, kind: str) -> None:
    """bp_visible = false: BPIALL is a NOP and ICIALLU / IC IALLU flush nothing that could be
    seen, so no policy costs a single retraining cycle; with visible predictors FB does (every
    kind here issues an ICIALLU(IS) at least on executable mappings)."""
    vcpus = 2 if builtin(kind).smp else 1
    off = load_workload(_workload(tmp_path, _platform(tmp_path, False, False), kind, vcpus))
    on = load_workload(_workload(tmp_path, _platform(tmp_path, True, False), kind, vcpus))
    for policy in all_policies():
        assert evaluate(off, policy, 16).cycles["bp-retrain"] == 0.0, policy
    if not builtin(kind).smp:  # a UP kernel's ICIALLU is local: FB makes it broadcast
        assert evaluate(on, "fb", 16).cycles["bp-retrain"] > 0.0


def test_fb_retrains_for_bpiall_only_where_it_upgrades_it(tmp_path: Path) -> None:
    """linux-arm32-up flushes its predictor with ICIALLU at every executable mapping and with
    BPIALL after new code and at a rollover. FB upgrades ICIALLU on every reading; BPIALL only
    where ``bpiall_fb_upgrade`` holds. Each upgraded instruction makes every other busy core
    retrain once, so the retraining FB adds grows from the exec-map rate to the exec-map +
    code-change + rollover rate: a ratio fixed by the kind's rates alone."""
    r = load_rates("linux-arm32-up")
    plain = evaluate(
        load_workload(_workload(tmp_path, _platform(tmp_path, True, False), "linux-arm32-up")),
        "fb",
        32,
    )
    upgraded = evaluate(
        load_workload(_workload(tmp_path, _platform(tmp_path, True, True), "linux-arm32-up")),
        "fb",
        32,
    )
    want = (r.exec_maps_per_s + r.code_changes_per_s + r.asid_rollovers_per_s) / r.exec_maps_per_s
    got = upgraded.cycles["bp-retrain"] / plain.cycles["bp-retrain"]
    assert got == pytest.approx(want, rel=1e-9)


def test_invisible_predictors_leave_no_stale_prediction_for_the_up_kinds() -> None:
    """With invisible predictors the checker can find no stale-bp: every verdict that rested on
    a stale prediction disappears. The UP kinds (fast to check) under every policy: no
    counterexample is a stale-bp; linux-arm32-up under FB, unsafe only through its local
    BPIALL by default, becomes safe."""
    invisible = BpReading(visible=False)
    for kind in ("linux-arm32-up", "freebsd-armv7-up"):
        for policy in all_policies():
            r = check(kind, policy, depth=9, bp=invisible)
            assert r.violation is None or r.violation.category != "stale-bp", (kind, policy)
    assert not check("linux-arm32-up", "fb", depth=9).safe
    assert check("linux-arm32-up", "fb", depth=9, bp=invisible).safe


@pytest.mark.slow
def test_invisible_predictors_leave_no_stale_prediction_for_any_kind() -> None:
    """As above for every AArch32 kind at the matrix depth."""
    invisible = BpReading(visible=False)
    for kind in AARCH32:
        for policy in all_policies():
            r = check(kind, policy, bp=invisible)
            assert r.violation is None or r.violation.category != "stale-bp", (kind, policy)


def test_run_shows_the_safety_of_the_platforms_reading(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`vtlbsim run`'s safe column is the checker's verdict under the platform's reading:
    linux-arm32-up under fb is unsafe where FB leaves BPIALL local (thunderx-cn8890-2s) and safe
    where predictors are invisible (thunderx-cn8890-2s-bpiall-nop)."""
    assert load_platform("thunderx-cn8890-2s").bp == BpReading()
    assert load_platform("thunderx-cn8890-2s-bpiall-nop").bp == BpReading(visible=False)
    got = {}
    for plat in ("thunderx-cn8890-2s", "thunderx-cn8890-2s-bpiall-nop"):
        wl = tmp_path / f"{plat}.toml"
        wl.write_text(
            f'platform = "{plat}"\nduration_s = 10\n[scheduler]\nkind = "random-migrate"\n'
            'migrations_per_vcpu_s = 50\n[[domains]]\nkind = "linux-arm32-up"\ncount = 8\n'
        )
        code, out, err = cli(["run", str(wl), "--policy", "fb", "--pcpus", "8", "--json"])
        assert code == 0, err
        got[plat] = json.loads(out)[0]["safe"]
    assert got == {"thunderx-cn8890-2s": False, "thunderx-cn8890-2s-bpiall-nop": True}


def test_run_names_the_reading_its_safety_column_used(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The "safe =" line says which predictor reading the column was checked under when the
    workload has an AArch32 guest (and says nothing of predictors for an AArch64-only one)."""
    lines = {}
    for plat, kind in (
        ("thunderx-cn8890-2s", "linux-arm32-up"),
        ("thunderx-cn8890-2s-bpiall-nop", "linux-arm32-up"),
        ("thunderx-cn8890-2s", "linux-arm64-smp"),
    ):
        wl = tmp_path / f"{plat}-{kind}.toml"
        wl.write_text(
            f'platform = "{plat}"\nduration_s = 10\n[scheduler]\nkind = "random-migrate"\n'
            f'migrations_per_vcpu_s = 50\n[[domains]]\nkind = "{kind}"\ncount = 8\n'
        )
        code, out, err = cli(["run", str(wl), "--policy", "fb", "--pcpus", "8"])
        assert code == 0, err
        lines[(plat, kind)] = " ".join(x for x in out.split() if x)
    assert "AArch32 branch predictors visible as" in lines[("thunderx-cn8890-2s", "linux-arm32-up")]
    assert (
        "AArch32 branch predictors invisible as"
        in lines[("thunderx-cn8890-2s-bpiall-nop", "linux-arm32-up")]
    )
    assert "branch predictors" not in lines[("thunderx-cn8890-2s", "linux-arm64-smp")]
