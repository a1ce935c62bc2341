"""The census initramfs: busybox, the census programs, and an ``/init`` that runs one named
workload between two phase markers, reports the kernel's own counters around it, and powers off.

Phases (the plugin starts a new one each time ``/mark`` executes HINT #127):

- ``boot``: from reset to the first marker (kernel boot and ``/init``'s set-up);
- ``workload``: from the first marker to the second one: the workload only;
- ``shutdown``: the rest: the optional symbol dump (``syms=1``:
  /proc/kallsyms's text symbols, gzip + base64, between "census: kallsyms begin/end"), power-off.

Before each marker ``/init`` prints one line ``census: PHASE processes=N ctxt=N uptime=S
cpu=USER,NICE,SYSTEM,IDLE,IOWAIT,IRQ,SOFTIRQ`` from /proc/stat and /proc/uptime, using shell
built-ins only (no process is created to read them).
"""

from __future__ import annotations

import gzip
import io
from dataclasses import dataclass

from . import programs

WORKLOADS: dict[str, str] = {
    "spawn": "fork + exit: N subshells `( : )` (no exec)",
    "exec": "fork + exec: N × `/bin/true` (busybox, static)",
    "mmap": "one process: N × (mmap 16 anonymous pages, write each, munmap)",
    "jit": "one process: N × (write a function into an RWX page, sync the I-cache, call it)",
    "idle": "N seconds of `sleep` (an idle guest: timer ticks only)",
    "shell": "N × (`/bin/true`; `sh -c`; `dd` 64 KiB to tmpfs; `cat` it; `rm`): the feasibility mix",
}
"""Every workload the census can run, with what N means."""

DEFAULT_ITERATIONS: dict[str, int] = {
    "spawn": 200,
    "exec": 200,
    "mmap": 2000,
    "jit": 2000,
    "idle": 10,
    "shell": 200,
}

_LOOP = "i=0; while [ $i -lt $n ]; do {body}; i=$((i+1)); done"
_BODIES = {
    "spawn": "( : )",
    "exec": "/bin/true",
    "shell": "/bin/true; /bin/sh -c 'x=1'; /bin/dd if=/dev/zero of=/tmp/f$i bs=4k count=16 2>/dev/null; "
    "/bin/cat /tmp/f$i >/dev/null; /bin/rm -f /tmp/f$i",
}

INIT = """#!/bin/sh
# vtlbsim census /init: workload=$wl n=$n (kernel command line)
/bin/mount -t proc proc /proc
/bin/mount -t sysfs sys /sys
/bin/mount -t tmpfs tmp /tmp
census_stat() {{
  while read k a b c d e f g rest; do
    case $k in
      processes) P=$a;;
      ctxt) C=$a;;
      cpu) U="$a,$b,$c,$d,$e,$f,$g";;
    esac
  done < /proc/stat
  read UP rest < /proc/uptime
  echo "census: $1 processes=$P ctxt=$C uptime=$UP cpu=$U"
}}
census_stat boot
/mark
{workload}
census_stat workload
/mark
if [ "$syms" = 1 ]; then
  echo "census: kallsyms begin"
  /bin/grep ' [tTwW] ' /proc/kallsyms | /bin/gzip -c | /bin/base64
  echo "census: kallsyms end"
fi
echo "census: done"
/bin/poweroff -f
"""

APPLETS = ("sh", "mount", "true", "sleep", "poweroff", "dd", "cat", "rm", "gzip", "base64", "grep")


@dataclass(frozen=True)
class CpioEntry:
    name: str
    mode: int
    data: bytes = b""
    rdev: tuple[int, int] = (0, 0)


def workload_script(workload: str) -> str:
    """The shell lines that run ``workload`` ($n iterations or seconds)."""
    if workload in _BODIES:
        return _LOOP.format(body=_BODIES[workload])
    if workload in ("mmap", "jit"):
        return f"/census-{workload}"
    if workload == "idle":
        return "/bin/sleep $n"
    raise KeyError(workload)


def cpio_newc(entries: list[CpioEntry]) -> bytes:
    """A cpio archive in the "new ASCII" format the kernel unpacks (Documentation/driver-api/
    early-userspace/buffer-format.rst): deterministic (inode = position, mtime 0)."""
    out = io.BytesIO()

    def put(ino: int, e: CpioEntry) -> None:
        name = e.name.encode() + b"\0"
        fields = [ino, e.mode, 0, 0, 1, 0, len(e.data), 0, 0, e.rdev[0], e.rdev[1], len(name), 0]
        out.write(b"070701" + b"".join(b"%08X" % f for f in fields) + name)
        out.write(b"\0" * (-out.tell() % 4))
        out.write(e.data)
        out.write(b"\0" * (-out.tell() % 4))

    for ino, e in enumerate(entries, start=1):
        put(ino, e)
    put(0, CpioEntry("TRAILER!!!", 0))
    return out.getvalue()


def build(arch: str, busybox: bytes, workload: str, iterations: int) -> bytes:
    """The gzip-compressed initramfs for ``arch`` ("aarch64" or "arm") running ``workload``."""
    d, x, lnk = 0o040755, 0o100755, 0o120777
    entries = [CpioEntry(n, d) for n in ("bin", "dev", "proc", "sys", "tmp")]
    entries.append(CpioEntry("dev/console", 0o020600, rdev=(5, 1)))
    entries.append(CpioEntry("bin/busybox", x, busybox))
    entries += [CpioEntry(f"bin/{a}", lnk, b"busybox") for a in APPLETS]
    init = INIT.format(workload=workload_script(workload))
    entries.append(CpioEntry("init", x, init.encode()))
    entries.append(CpioEntry("mark", x, programs.elf(arch, programs.mark(arch))))
    if workload == "mmap":
        code = programs.mmap_loop(arch, iterations)
        entries.append(CpioEntry("census-mmap", x, programs.elf(arch, code)))
    if workload == "jit":
        code = programs.jit_loop(arch, iterations)
        entries.append(CpioEntry("census-jit", x, programs.elf(arch, code)))
    return gzip.compress(cpio_newc(entries), mtime=0)
