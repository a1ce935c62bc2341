"""A32 conditional sites: the condition table (Arm ARM F1.3 "Conditional execution", Table F1-1),
finding where an image is linked, and resolving reached sites from logged CPU states."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from vtlbsim.census import cond, pluginlog
from vtlbsim.census.pluginlog import PluginLog, Site

N, Z, C, V = 1 << 31, 1 << 30, 1 << 29, 1 << 28


@pytest.mark.parametrize(
    ("condition", "psr", "holds"),
    [
        (0, Z, True),  # EQ: Z == 1
        (0, 0, False),
        (1, Z, False),  # NE: Z == 0 (Linux's tst/mcrne pairs)
        (1, 0, True),
        (2, C, True),  # CS
        (3, C, False),  # CC
        (4, N, True),  # MI
        (5, N, False),  # PL
        (6, V, True),  # VS
        (7, 0, True),  # VC
        (8, C, True),  # HI: C == 1 and Z == 0
        (8, C | Z, False),
        (9, C | Z, True),  # LS: C == 0 or Z == 1
        (10, N | V, True),  # GE: N == V
        (11, N, True),  # LT: N != V
        (12, 0, True),  # GT: Z == 0 and N == V
        (12, Z, False),
        (13, Z, True),  # LE
        (14, N | Z | C | V, True),  # AL
    ],
)
def test_condition_codes(condition: int, psr: int, holds: bool) -> None:
    assert cond.condition_holds(condition, psr) is holds


def _image(words: list[int]) -> bytes:
    return b"".join(struct.pack("<I", w) for w in words)


def test_link_address_is_what_the_sites_agree_on() -> None:
    image = _image([0x11111111, 0xEE080F37, 0x22222222, 0xEE080F37, 0x33333333, 0x44444444, 0x55])
    base = 0xC0208000
    # five sites seen executing at base + 4 * index; the repeated word votes for two bases
    seen = [
        (base + 4 * i, w) for i, w in enumerate(struct.unpack("<7I", image)) if i in (0, 1, 2, 4, 5)
    ]
    assert cond.link_address(image, seen) == base


def test_link_address_needs_agreement() -> None:
    image = _image([1, 2, 3, 4, 5, 6])
    assert cond.link_address(image, [(0x1000, 1), (0x2000, 2)]) is None  # too few


def _log(
    site: Site, reached: dict[tuple[int, int], int], psrs: list[int], phase: int = 1
) -> PluginLog:
    log = PluginLog(loaded=True, ended=True, vcpus=2, phases=3)
    log.sites = {site.index: site}
    log.site_counts = {site.index: reached}
    log.cpu_states = {(site.vaddr + 4, phase): psrs}
    return log


SITE = Site(7, 0xC0312060, 0x1E082F37, "tlbimva", 1, "a32", 1)


def test_a_site_whose_condition_never_passed_executed_nothing() -> None:
    log = _log(SITE, {(1, 0): 100, (1, 1): 50}, [Z, Z])  # NE fails whenever logged
    (r,) = cond.resolve(log, {SITE.vaddr})
    assert r.method == "exact" and r.executed == {0: 0, 1: 0}


def test_a_site_that_always_passed_executed_every_time_it_was_reached() -> None:
    # one more logged entry than reaches: an entry logged twice; executions stay capped
    log = _log(SITE, {(1, 0): 3}, [0, 0, 0, 0])
    (r,) = cond.resolve(log, {SITE.vaddr})
    assert r.method == "exact" and r.executed == {0: 3}


def test_a_mixed_site_is_an_estimate_split_by_vcpu() -> None:
    log = _log(SITE, {(1, 0): 6, (1, 1): 2}, [0, 0, Z, 0, 0, 0])  # 5 passes of 8 reaches
    (r,) = cond.resolve(log, {SITE.vaddr})
    assert r.method == "estimate"
    assert r.executed == {0: round(6 * 5 / 8), 1: round(2 * 5 / 8)}


def test_a_site_qemu_does_not_end_a_block_after_is_unresolved() -> None:
    site = Site(8, 0xC056F80C, 0x1E075F3A, "dccmvac", 1, "a32", 2)
    log = _log(site, {(1, 0): 9}, [])
    (r,) = cond.resolve(log, {site.vaddr})
    assert not r.resolved and r.executed == {0: 9}


def test_a_site_outside_the_scanned_image_is_unresolved() -> None:
    log = _log(SITE, {(1, 0): 1}, [0])
    (r,) = cond.resolve(log, set())
    assert r.method.startswith("unresolved")


def test_unconditional_sites_are_not_resolved() -> None:
    site = Site(9, 0xC0100000, 0xEE080F37, "tlbimva", 14, "a32", 1)
    assert cond.resolve(_log(site, {(1, 0): 4}, []), {site.vaddr}) == []


def test_zimage_payload_is_found_and_other_images_pass_through() -> None:
    import lzma

    payload = bytes(range(256)) * 64
    header = bytearray(0x40)
    header[0x24:0x28] = struct.pack("<I", cond.ZIMAGE_MAGIC)
    zimage = bytes(header) + lzma.compress(payload, format=lzma.FORMAT_XZ) + b"\0" * 8
    assert cond.decompress_zimage(zimage) == payload
    assert cond.decompress_zimage(b"plain image") == b"plain image"


def test_dfilter_names_the_instruction_after_each_candidate() -> None:
    assert cond.dfilter([(0x1000, "tlbimva", 1), (0x2004, "wfe", 4)]) == "0x1004+4,0x2008+4"


def test_cpu_states_are_read_from_a_qemu_log(tmp_path: Path) -> None:
    text = (
        "census\t1\tarm\t1\ta32\n"
        "R00=00000002 R01=00000000 R02=90f00000 R03=90f00000\n"
        "R04=c1c46800 R05=e08ddf08 R06=0000003d R07=00000000\n"
        "R08=c1c46838 R09=c1beab00 R10=00000000 R11=00000000\n"
        "R12=00000000 R13=e08dde68 R14=c057e374 R15=c0312064\n"
        "PSR=40000053 -Z-- A svc32\n"
        "mark\t1\t0\n"
        "R12=00000000 R13=e08dde68 R14=c057e374 R15=c0312064\n"
        "PSR=00000053 ---- A svc32\n"
    )
    path = tmp_path / "qemu.log"
    path.write_text(text)
    log = pluginlog.parse(path)
    assert log.cpu_states == {(0xC0312064, 0): [0x40000053], (0xC0312064, 1): [0x00000053]}
