"""Every figure of every profile carries a source or an assumption; bad profiles are refused."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from vtlbsim.cost.platform import FIGURES, PROFILE_DIR, PlatformError, load_platform, platform_names
from vtlbsim.guest.kinds import KIND_NAMES
from vtlbsim.guest.rates import (
    DISCIPLINE_RATES,
    GUEST_PROFILE_DIR,
    RATE_FIELDS,
    RatesError,
    load_rates,
)

REQUIRED = {
    "thunderx-cn8890-2s",
    "thunderx2-2s",
    "ampere-altra-q80",
    "graviton2",
    "kunpeng920-2s",
    "cortex-a57-juno",
}


def test_the_issue_profiles_exist() -> None:
    assert REQUIRED <= set(platform_names())


@pytest.mark.parametrize("name", platform_names())
def test_every_platform_figure_has_source_or_assumption(name: str) -> None:
    raw = tomllib.loads((PROFILE_DIR / f"{name}.toml").read_text())
    figures = {k: v for k, v in raw.items() if k not in ("name", "description")}
    assert set(figures) == set(FIGURES)
    for key, fig in figures.items():
        has = [k for k in ("source", "assumption") if k in fig]
        assert len(has) == 1 and fig[has[0]].strip(), key
    p = load_platform(name)
    assert p.name == name
    assert set(p.provenance) == set(FIGURES)
    assert sorted(p.assumed_figures()) == sorted(k for k, f in figures.items() if "assumption" in f)


def test_thunderx_is_96_cores_over_2_sockets() -> None:
    p = load_platform("thunderx-cn8890-2s")
    assert (p.cores, p.sockets) == (96, 2)
    assert p.is_sockets(48) == 1 and p.is_sockets(49) == 2 and p.is_sockets(96) == 2


@pytest.mark.parametrize("kind", KIND_NAMES)
def test_every_builtin_kind_has_rates_with_provenance(kind: str) -> None:
    raw = tomllib.loads((GUEST_PROFILE_DIR / f"{kind}.toml").read_text())
    # every rate, plus the rates of the discipline keys the kind uses (exec_maps_per_s for a
    # map_exec, pte_relax_fraction for a pte_relax)
    used = {
        r for r, (key, _) in DISCIPLINE_RATES.items() if raw["discipline"].get(key, {}).get("value")
    }
    assert set(raw["rates"]) == set(RATE_FIELDS) | used
    for key, fig in raw["rates"].items():
        has = [k for k in ("source", "assumption") if k in fig]
        assert len(has) == 1 and fig[has[0]].strip(), key
    r = load_rates(kind)
    assert r.kind == kind and set(r.provenance) == set(RATE_FIELDS) | used


def _platform_text(drop: str | None = None, bare: str | None = None) -> str:
    raw = (PROFILE_DIR / "cortex-a57-juno.toml").read_text().splitlines()
    out = []
    for line in raw:
        key = line.split("=", 1)[0].strip()
        if key == drop:
            continue
        if key == bare:
            line = f"{key} = {{ value = 1 }}"
        out.append(line)
    return "\n".join(out) + "\n"


def test_a_figure_without_provenance_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad.toml"
    p.write_text(_platform_text(bare="walk_2stage_cycles"))
    with pytest.raises(PlatformError) as exc:
        load_platform(str(p))
    msg = str(exc.value)
    assert str(p) in msg and "walk_2stage_cycles" in msg and "\n" not in msg


def test_a_missing_figure_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "bad2.toml"
    p.write_text(_platform_text(drop="l2_tlb_entries"))
    with pytest.raises(PlatformError, match="l2_tlb_entries"):
        load_platform(str(p))


def test_user_kind_needs_valid_instructions(tmp_path: Path) -> None:
    p = tmp_path / "k.toml"
    p.write_text(
        'name = "k"\narch = "aarch32"\n[discipline]\n'
        'pte_user = { value = ["vale1is"], source = "test" }\n[rates]\n'
    )
    with pytest.raises(RatesError, match=r"discipline\.pte_user.*vale1is"):
        load_rates(str(p))
