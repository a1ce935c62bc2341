"""Reading the census plugin's report and QEMU's A64 CPU dumps from one log (the line formats of
data/census/plugin/census.c and QEMU's arm_cpu_dump_state)."""

from __future__ import annotations

from pathlib import Path

from vtlbsim.census import pluginlog

LOG = """census\t1\taarch64\t2\ta64
mark\t1\t0
 PC=0000000000264a14 X00=000080003ffd8000 X01=000080003ffee208
X02=000100007ffed000 X03=0000000000000000 X04=000080003ffd85ec
X29=0000000000000000 X30=000000000025ab78  SP=000080003ffd7e60
PSTATE=800002c9 N--- EL2h
event\t5\t1\t1\tload
event\t6\t1\t1\tflush-vmalls12e1
some line QEMU wrote\twith a tab
mark\t2\t1
phases\t3
count\t0\t0\tvale1is\t566
count\t1\t1\tvale1is\t48040
count\t1\t1\tdsb ish\t7
insns\t1\t1\tkernel\t1000
insns\t1\t1\tuser\t20
site\t0\t0xffff800008123450\t0xd50883a0\tvale1is\t14\ta64\t2
sitecount\t0\t1\t1\t48040
dropped\t0\t3
end
"""


def test_every_line_kind(tmp_path: Path) -> None:
    path = tmp_path / "qemu.log"
    path.write_text(LOG)
    log = pluginlog.parse(path)
    assert log.loaded and log.ended and log.vcpus == 2 and log.phases == 3
    assert log.marks == [(1, 0), (2, 1)]
    assert log.counts == {(0, 0): {"vale1is": 566}, (1, 1): {"vale1is": 48040, "dsb ish": 7}}
    assert log.insns == {(1, 1): {"kernel": 1000, "user": 20}}
    site = log.sites[0]
    assert (site.vaddr, site.insn, site.name, site.cond, site.isa) == (
        0xFFFF800008123450,
        0xD50883A0,
        "vale1is",
        14,
        "a64",
    )
    assert not site.conditional
    assert log.site_counts == {0: {(1, 1): 48040}}
    assert [(e.seq, e.phase, e.vcpu, e.name) for e in log.events] == [
        (5, 1, 1, "load"),
        (6, 1, 1, "flush-vmalls12e1"),
    ]
    (state,) = log.a64_states
    assert state.pc == 0x264A14 and state.phase == 1
    assert state.x == (0x000080003FFD8000, 0x000080003FFEE208, 0x000100007FFED000, 0)
    assert state.position < log.events[0].position
    assert (log.sites_dropped, log.ambiguous) == (0, 3)


def test_a_log_without_the_report_is_not_ended(tmp_path: Path) -> None:
    path = tmp_path / "qemu.log"
    path.write_text("census\t1\taarch64\t1\ta64\nmark\t1\t0\n")
    log = pluginlog.parse(path)
    assert log.loaded and not log.ended and log.phases == 0
