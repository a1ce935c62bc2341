"""Booting a guest under QEMU with the census plugin, with progress and timeouts.

Clock: every census boot runs with ``-icount shift=0,sleep=off``: QEMU advances the guest's
virtual clock by 1 ns per guest instruction (a 1 GIPS CPU; with several vCPUs, QEMU runs them
round-robin in one thread and the clock advances with the instructions of all of them) and skips
idle time. A guest second is therefore 10^9 guest instructions, whatever the host's speed, and
the guest's timer interrupts arrive at the rate a 1 GIPS machine would see them. Without icount
the guest clock would follow the host's wall clock, and a "guest second" would be whatever this
host emulated in a second.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .fetch import CensusError, Progress

ICOUNT = "shift=0,sleep=off"
ICOUNT_CLOCK = (
    "QEMU -icount shift=0: a guest second is 10^9 guest instructions (all vCPUs together: QEMU "
    "runs them round-robin), idle time skipped"
)
MTTCG_CLOCK = (
    "QEMU multi-threaded TCG without -icount (an arm32 SMP guest hangs after bringing up its "
    "second CPU under -icount in QEMU 7.2 here): guest seconds are host seconds, and a vCPU "
    "spinning on a lock its descheduled sibling holds adds instructions; maintenance counts are "
    "exact"
)


@dataclass
class BootSpec:
    """One QEMU invocation."""

    qemu: str
    cpu_arg: str
    vcpus: int
    kernel: Path
    append: str
    initrd: Path | None
    plugin: Path
    plugin_args: list[str]
    machine: str = "virt"
    memory_mb: int = 512
    dfilter: str | None = None
    extra: list[str] = field(default_factory=list)
    stop_when_done: bool = False
    """Stop QEMU (its exit path still runs: the plugin reports) once the guest printed its last
    line: a dom0less guest's power-off does not stop Xen, nor QEMU."""
    clock: str = "icount"
    """"icount" (the census clock), "single" (one thread, host clock: Xen 4.17 hangs at boot
    under -icount here) or "mttcg" (one thread per vCPU, host clock: an arm32 SMP guest hangs
    after bringing up its second CPU under -icount here)."""

    @property
    def icount(self) -> bool:
        return self.clock == "icount"

    def clock_args(self) -> str:
        return {"icount": f"-icount {ICOUNT}", "single": "-accel tcg,thread=single"}.get(
            self.clock, "-accel tcg,thread=multi"
        )

    def command(self, console: Path, log: Path) -> list[str]:
        cmd = [
            self.qemu,
            "-M", self.machine,
            "-cpu", self.cpu_arg,
            "-smp", str(self.vcpus),
            "-m", str(self.memory_mb),
            *self.clock_args().split(),
            "-display", "none",
            "-monitor", "none",
            "-serial", f"file:{console}",
            "-no-reboot",
            "-nic", "none",
            "-kernel", str(self.kernel),
        ]  # fmt: skip
        if self.append:
            cmd += ["-append", self.append]
        if self.initrd is not None:
            cmd += ["-initrd", str(self.initrd)]
        cmd += self.extra
        cmd += ["-plugin", ",".join([str(self.plugin), *self.plugin_args])]
        items = "plugin"
        if self.dfilter:
            items += ",cpu"
            cmd += ["-dfilter", self.dfilter]
        cmd += ["-d", items, "-D", str(log)]
        return cmd


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask QEMU to quit (SIGTERM: it runs its exit path, the plugin's report included), then kill."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""


_XEN_GUEST = re.compile(r"^\(XEN\) DOM\d+: ?", re.M)


def guest_console(text: str) -> str:
    """The serial console with Xen's prefix of a guest's lines removed (a dom0less guest's
    console goes through Xen: "(XEN) DOM1: ...")."""
    return _XEN_GUEST.sub("", text)


def _last_console_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:120] if lines else "(nothing on the console)"


def boot(
    spec: BootSpec,
    workdir: Path,
    progress: Progress,
    boot_timeout: float,
    run_timeout: float,
    stages: tuple[str, ...] = ("census: boot", "census: workload", "census: done"),
) -> tuple[str, Path]:
    """Run QEMU until it exits; (console text, log path). CensusError (one line) when the guest
    does not print ``stages[0]`` within ``boot_timeout`` seconds, or the rest within
    ``run_timeout``, or QEMU fails."""
    console, log = workdir / "console.txt", workdir / "qemu.log"
    cmd = spec.command(console, log)
    (workdir / "command.txt").write_text(" ".join(cmd) + "\n", encoding="utf-8")
    stderr = open(workdir / "qemu.stderr", "wb")  # noqa: SIM115 (closed below)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr)
    seen = 0
    try:
        while proc.poll() is None:
            time.sleep(0.5)
            text = guest_console(_read(console))
            if spec.stop_when_done and seen == len(stages) and "reboot: Power down" in text:
                _stop(proc)
                break
            while seen < len(stages) and stages[seen] in text:
                line = text.split(stages[seen], 1)[1].splitlines()[0].strip()
                progress(f"{stages[seen].removeprefix('census: ')} {line}".strip())
                seen += 1
            elapsed = time.monotonic() - start
            if seen == 0 and elapsed > boot_timeout:
                _stop(proc)
                raise CensusError(
                    f"the guest did not reach its first marker within {boot_timeout:.0f} s "
                    f"(last console line: {_last_console_line(text)})"
                )
            if elapsed > boot_timeout + run_timeout:
                _stop(proc)
                raise CensusError(
                    f"the workload never reached its marker within {run_timeout:.0f} s "
                    f"(last console line: {_last_console_line(text)})"
                )
    except BaseException:
        _stop(proc)
        raise
    finally:
        stderr.close()
    text = guest_console(_read(console))
    if proc.returncode != 0 and not (spec.stop_when_done and seen == len(stages)):
        err = _read(workdir / "qemu.stderr").strip().splitlines()
        raise CensusError(
            f"{Path(spec.qemu).name} exited with code {proc.returncode}: "
            f"{err[-1] if err else _last_console_line(text)}"
        )
    missing = [s for s in stages if s not in text]
    if missing:
        raise CensusError(
            f"the guest powered off before '{missing[0]}' "
            f"(last console line: {_last_console_line(text)})"
        )
    return text, log
