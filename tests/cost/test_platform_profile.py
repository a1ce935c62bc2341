"""Platform profiles (cost/platform.py) by hand: the derived figures (sockets an IS domain spans,
the socket of a pCPU, I-cache lines, the predictor reading), every error a bad profile gives
(one line: the file, the figure, what was expected), and how a profile is found (name, path
relative to the file that names it, the working directory, the cache)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from vtlbsim.arch.ops import BpReading
from vtlbsim.cost.platform import (
    FIGURES,
    PlatformError,
    forget_profiles,
    load_platform,
    platform_from_dict,
    platform_names,
)

ROUND = Path(__file__).parent / "data" / "anchor-round.toml"
RAW: dict[str, Any] = tomllib.loads(ROUND.read_text())


@pytest.fixture(autouse=True)
def _forget_loaded_profiles() -> Iterator[None]:
    """Profiles loaded here by name stay out of the cache of the tests that follow (``vtlbsim
    calibrate --profiles DIR`` expects to read DIR's copy of a profile it has not loaded)."""
    yield
    forget_profiles()


def _with(**figures: Any) -> dict[str, Any]:
    return {**RAW, **{k: {"value": v, "source": "test"} for k, v in figures.items()}}


def test_sockets_an_is_domain_spans() -> None:
    """10 cores on 3 sockets: ceil(10/3) = 4 cores per socket (sockets 0-3, 4-7, 8-9), filled
    in order: 1 to 4 pCPUs span 1 socket, 5 to 8 span 2, 9 and 10 span 3; never fewer than 1
    (0 pCPUs) nor more than the 3 sockets (12 pCPUs)."""
    p = platform_from_dict(_with(cores=10, sockets=3), "t")
    assert p.cores_per_socket() == 4
    spans = {n: p.is_sockets(n) for n in (0, 1, 4, 5, 8, 9, 10, 12)}
    assert spans == {0: 1, 1: 1, 4: 1, 5: 2, 8: 2, 9: 3, 10: 3, 12: 3}


def test_the_socket_of_a_pcpu() -> None:
    """4 cores per socket: pCPUs 0 and 3 → 0, 4 and 7 → 1, 8 and 9 → 2; a pCPU number past the
    last core stays on the last socket (12 → 2, not 3; 16 → 2, not 4)."""
    p = platform_from_dict(_with(cores=10, sockets=3), "t")
    assert [p.socket_of(c) for c in (0, 3, 4, 7, 8, 9, 12, 16)] == [0, 0, 1, 1, 2, 2, 2, 2]


def test_tlb_reach_and_icache_lines() -> None:
    """The L2 TLB's 128 entries are the reach; 8 KiB of 64-byte lines = 128 lines; 64 KiB of
    64-byte lines = 65536 / 64 = 1024; 3 KiB of 48-byte lines = 3072 / 48 = 64; 1 KiB of 48-byte
    lines = 1024 // 48 = 21 whole lines."""
    p = platform_from_dict(RAW, "t")
    assert p.tlb_reach_entries() == 128 and p.icache_lines() == 128
    assert platform_from_dict(_with(icache_kib=3, icache_line_bytes=48), "t").icache_lines() == 64
    assert (
        platform_from_dict(_with(icache_kib=64, icache_line_bytes=64), "t").icache_lines() == 1024
    )
    assert platform_from_dict(_with(icache_kib=1, icache_line_bytes=48), "t").icache_lines() == 21


def test_the_predictor_reading() -> None:
    """Visible with the FB upgrade, visible without; invisible: the FB reading is moot, so one
    spelling (False, False) whatever the profile says."""
    read = {
        (v, u): platform_from_dict(_with(bp_visible=v, bpiall_fb_upgrade=u), "t").bp
        for v in (True, False)
        for u in (True, False)
    }
    assert read[(True, True)] == BpReading(True, True)
    assert read[(True, False)] == BpReading(True, False)
    assert read[(False, True)] == read[(False, False)] == BpReading(False, False)


def test_assumed_figures_are_those_without_a_source() -> None:
    """anchor-round assumes every figure; give two of them a source and they leave the list."""
    assert sorted(platform_from_dict(RAW, "t").assumed_figures()) == sorted(FIGURES)
    p = platform_from_dict(_with(cores=4, clock_ghz=1.0), "t")
    assert sorted(p.assumed_figures()) == sorted(set(FIGURES) - {"cores", "clock_ghz"})
    assert p.provenance["cores"].source == "test" and not p.provenance["cores"].assumed
    assert p.provenance["sockets"].assumed and p.path == "t"


SHAPE = 'expected { value = ..., source = "..." } or { value = ..., assumption = "..." }'


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"warp": {"value": 9, "source": "x"}},
            f"warp: unknown figure (expected one of {', '.join(FIGURES)})",
        ),
        ({"cores": 96}, f"cores: {SHAPE}"),
        ({"cores": {"source": "x"}}, f"cores: {SHAPE}"),
        (
            {"cores": {"value": 4, "source": "a", "assumption": "b"}},
            "cores: each figure needs exactly one of 'source' or 'assumption'",
        ),
        (
            {"cores": {"value": 4}},
            "cores: each figure needs exactly one of 'source' or 'assumption'",
        ),
        (
            {"cores": {"value": 4, "source": "a", "note": "x"}},
            "cores: Extra inputs are not permitted",
        ),
        (
            {"cores": {"value": 0, "source": "a"}},
            "cores: Input should be greater than or equal to 1",
        ),
        (
            {"page_size": {"value": 1024, "source": "a"}},
            "page_size: Input should be greater than or equal to 4096",
        ),
        ({"clock_ghz": {"value": 0, "source": "a"}}, "clock_ghz: Input should be greater than 0"),
        (
            {"dvm_scope": {"value": "cluster", "source": "a"}},
            "dvm_scope: Input should be 'system', 'socket' or 'filtered'",
        ),
        (
            {"bp_visible": {"value": 1, "source": "a"}},
            "bp_visible: Input should be a valid boolean",
        ),
    ],
)
def test_a_bad_profile_names_the_file_and_figure(change: dict[str, Any], message: str) -> None:
    with pytest.raises(PlatformError) as exc:
        platform_from_dict({**RAW, **change}, "p.toml")
    assert str(exc.value) == f"p.toml: {message}"


def test_a_missing_figure_or_name() -> None:
    raw = {k: v for k, v in RAW.items() if k != "l2_tlb_entries"}
    with pytest.raises(PlatformError) as exc:
        platform_from_dict(raw, "p.toml")
    assert str(exc.value) == "p.toml: l2_tlb_entries: required figure is missing"
    raw = {k: v for k, v in RAW.items() if k != "name"}
    with pytest.raises(PlatformError) as exc:
        platform_from_dict(raw, "p.toml")
    assert str(exc.value) == "p.toml: name: required figure is missing"


def test_name_and_description_are_plain_values() -> None:
    p = platform_from_dict({**RAW, "description": "d"}, "t")
    assert (p.name, p.description) == ("anchor-round", "d")
    assert "name" not in p.provenance and "description" not in p.provenance


def test_an_unknown_platform_lists_the_known_ones() -> None:
    with pytest.raises(PlatformError) as exc:
        load_platform("no-such-box")
    assert str(exc.value) == (
        f"unknown platform 'no-such-box' (expected one of: {', '.join(platform_names())}, or a "
        "path to a .toml)"
    )


def test_a_relative_path_is_looked_up_beside_the_naming_file_then_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``profiles/round.toml`` named by a file in ``DIR``: ``DIR/profiles/round.toml``; failing
    that, ``profiles/round.toml`` in the working directory; ``round.toml`` alone (no '/') is a
    path too, by its ``.toml``; an absolute path is itself."""
    base = tmp_path / "base"
    (base / "profiles").mkdir(parents=True)
    (base / "profiles" / "round.toml").write_text(ROUND.read_text())
    (base / "round.toml").write_text(ROUND.read_text())
    here = tmp_path / "here"
    (here / "elsewhere").mkdir(parents=True)
    (here / "elsewhere" / "r.toml").write_text(
        ROUND.read_text().replace("cores = { value = 4", "cores = { value = 6")
    )
    monkeypatch.chdir(here)
    try:
        p = load_platform("profiles/round.toml", str(base))
        assert p.path == str(base / "profiles" / "round.toml") and p.cores == 4
        assert load_platform("round.toml", str(base)).path == str(base / "round.toml")
        q = load_platform("elsewhere/r.toml", str(base))
        assert q.path == "elsewhere/r.toml" and q.cores == 6
        assert load_platform(str(ROUND), str(base)).path == str(ROUND)
        # a name with a '/' is a path even without .toml
        (base / "profiles" / "box").write_text(ROUND.read_text())
        assert load_platform("profiles/box", str(base)).path == str(base / "profiles" / "box")
        with pytest.raises(PlatformError, match="unknown platform 'profiles/none.toml'"):
            load_platform("profiles/none.toml", str(base))
    finally:
        forget_profiles()


def test_loaded_profiles_are_kept_until_forgotten(tmp_path: Path) -> None:
    """The same name and base give the same object; another base is another key; after
    ``forget_profiles`` the file is read again (here: changed meanwhile)."""
    f = tmp_path / "p.toml"
    f.write_text(ROUND.read_text())
    try:
        first = load_platform("p.toml", str(tmp_path))
        assert load_platform("p.toml", str(tmp_path)) is first
        f.write_text(ROUND.read_text().replace("cores = { value = 4", "cores = { value = 8"))
        assert load_platform("p.toml", str(tmp_path)).cores == 4
        assert load_platform(str(f)).cores == 8  # another key: read now
        forget_profiles()
        assert load_platform("p.toml", str(tmp_path)).cores == 8
    finally:
        forget_profiles()


def test_a_shipped_profile_by_name() -> None:
    p = load_platform("thunderx-cn8890-2s")
    assert p.name == "thunderx-cn8890-2s" and p.path.endswith("thunderx-cn8890-2s.toml")
    assert "thunderx-cn8890-2s" in platform_names() and platform_names() == sorted(platform_names())


def test_a_profile_that_is_not_text(tmp_path: Path) -> None:
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(PlatformError) as exc:
        load_platform(str(f))
    assert str(exc.value) == f"{f}: not a text file (expected a platform profile in UTF-8 TOML)"


def test_a_profile_that_is_not_toml(tmp_path: Path) -> None:
    """A syntax error on line 2: the file and that line, then what TOML says."""
    f = tmp_path / "bad.toml"
    f.write_text('name = "x"\ncores = = 4\n')
    with pytest.raises(PlatformError) as exc:
        load_platform(str(f))
    assert str(exc.value).startswith(f"{f}:2: not valid TOML: ")
