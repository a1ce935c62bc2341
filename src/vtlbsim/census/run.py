"""One census: fetch, build the initramfs, boot with the plugin, and assemble the result.

The result (``census_result``) is the census JSON: ``kernel``, ``workload``, ``vcpus``, and
``phases`` whose ``boot`` and ``workload`` entries hold ``counts`` (instruction name as vtlbsim
spells it -> executions), ``instructions``, ``processes`` and ``guest_seconds``, plus what the
counts rest on (packages, CPU model, clock, the conditional sites and how each was resolved,
the sites of every maintenance instruction with its symbol).
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arch.ops import Arch
from . import boot, cond, fetch, initramfs, plugin, symbols, xen
from .fetch import CensusError, Progress
from .kernels import KERNELS, CpuModel, Kernel
from .pluginlog import PluginLog, parse

PHASES = ("boot", "workload")
USER_HZ = 100
"""/proc/stat counts CPU time in 1/100 s (USER_HZ) on arm and arm64."""

_STAT = re.compile(
    r"census: (\w+) processes=(\d+) ctxt=(\d+) uptime=([\d.]+) cpu=(\d+),(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)"
)


@dataclass(frozen=True)
class Request:
    """What to census."""

    kernel: str
    workload: str
    vcpus: int
    iterations: int
    cpu: str | None
    symbols: bool
    cache: Path
    boot_timeout: float
    run_timeout: float
    hypervisor: str | None = None
    """"xen": boot Xen on ``vcpus`` pCPUs with the kernel as a ``guest_vcpus``-vCPU VM."""
    guest_vcpus: int = 4

    def command(self) -> str:
        """The vtlbsim command that makes this census."""
        k = KERNELS[self.kernel]
        parts = [
            "vtlbsim census",
            f"--kernel {self.kernel}",
            f"--workload {self.workload}",
            f"--vcpus {self.vcpus}",
            f"--iterations {self.iterations}",
        ]
        if len(k.cpus) > 1:
            parts.append(f"--cpu {k.cpu(self.cpu).name}")
        if self.hypervisor:
            parts.append(f"--hypervisor {self.hypervisor} --guest-vcpus {self.guest_vcpus}")
        if not self.symbols:
            parts.append("--no-symbols")
        return " ".join(parts)


@dataclass
class Guest:
    """What a boot needs: kernel image, busybox, and where they came from."""

    image: Path
    image_package: str
    busybox: bytes
    busybox_package: str
    system_map: Path | None = None


def guest_files(kernel: Kernel, cache: Path, progress: Progress) -> Guest:
    """Fetch (or find) the kernel image and busybox for ``kernel``."""
    if kernel.metapackage is None:
        out = cache / "kernels" / kernel.name
        image = out / kernel.image_prefix
        if not image.is_file():
            raise CensusError(
                f"{kernel.name}: no kernel at {image}: build it with scripts/build-armhf-up.sh "
                "(tens of minutes)"
            )
        build = (out / "BUILD").read_text(encoding="utf-8") if (out / "BUILD").is_file() else ""
        ident = build.splitlines()[0].removeprefix("source: ") if build else "local build"
        smap = out / "System.map"
        system_map = smap if smap.is_file() else None
    else:
        tree, ident = fetch.fetch(cache, kernel.metapackage, kernel.deb_arch, progress)
        found = sorted((tree / "boot").glob(kernel.image_prefix + "*"))
        if not found:
            raise CensusError(f"{ident}: no boot/{kernel.image_prefix}* in the package")
        image, system_map = found[0], None
    bb_tree, bb_ident = fetch.fetch(cache, "busybox-static", kernel.deb_arch, progress)
    busybox = bb_tree / "bin" / "busybox"
    if not busybox.is_file():
        raise CensusError(f"{bb_ident}: no bin/busybox in the package")
    return Guest(image, ident, busybox.read_bytes(), bb_ident, system_map)


def _append(wl: str, n: int, syms: bool) -> str:
    return f"console=ttyAMA0 panic=-1 quiet wl={wl} n={n} syms={int(syms)}"


def _ranges(kernel: Kernel) -> list[str]:
    return [f"range={name}:{lo:x}:{hi:x}" for name, lo, hi in kernel.ranges]


def text_base(
    req: Request,
    kernel: Kernel,
    cpu: CpuModel,
    guest: Guest,
    qemu: str,
    lib: Path,
    progress: Progress,
) -> int:
    """Where the kernel image is linked: from the build's System.map (``_text``), from the cache,
    or from a short boot whose plugin sites are matched against the image (cached per digest)."""
    if guest.system_map is not None:
        table = symbols.from_map(guest.system_map.read_text(encoding="utf-8", errors="replace"))
        addr = table.address("_text")
        if addr is not None:
            return addr
    digest = hashlib.sha256(guest.image.read_bytes()).hexdigest()[:16]
    cached = req.cache / "bases" / f"{digest}.txt"
    if cached.is_file():
        return int(cached.read_text().strip(), 16)
    progress("finding where the kernel image is linked (a short boot)")
    work = Path(tempfile.mkdtemp(dir=_runs(req.cache), prefix="base-"))
    try:
        initrd = work / "initrd.gz"
        initrd.write_bytes(initramfs.build(kernel.arch, guest.busybox, "idle", 0))
        spec = boot.BootSpec(
            qemu, cpu.cpu_arg, 1, guest.image, _append("idle", 0, False), initrd, lib,
            [f"isa={kernel.isa}"],
        )  # fmt: skip
        boot.boot(spec, work, lambda s: None, req.boot_timeout, req.run_timeout)
        log = parse(work / "qemu.log")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    kernel_lo = kernel.ranges[0][1]
    sites = [(s.vaddr, s.insn) for s in log.sites.values() if s.vaddr >= kernel_lo]
    base = cond.link_address(cond.read_image(guest.image), sites)
    if base is None:
        raise CensusError(f"{kernel.name}: cannot tell where the kernel image is linked")
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(f"{base:x}\n")
    return base


def _runs(cache: Path) -> Path:
    d = cache / "runs"
    d.mkdir(parents=True, exist_ok=True)
    return d


def census(req: Request, progress: Progress) -> dict[str, Any]:
    """Run one census; the census JSON object. CensusError on any failure (nothing is left)."""
    if req.kernel not in KERNELS:
        raise CensusError(
            f"--kernel: unknown kernel {req.kernel!r} (expected one of: {', '.join(KERNELS)})"
        )
    kernel = KERNELS[req.kernel]
    try:
        cpu = kernel.cpu(req.cpu)
    except KeyError:
        names = ", ".join(c.name for c in kernel.cpus)
        raise CensusError(f"--cpu: {req.kernel} boots on {names}, not {req.cpu!r}") from None
    if req.workload not in initramfs.WORKLOADS:
        raise CensusError(
            f"--workload: unknown workload {req.workload!r} (expected one of: {', '.join(initramfs.WORKLOADS)})"
        )
    if req.hypervisor not in (None, "xen"):
        raise CensusError(f"--hypervisor: unknown hypervisor {req.hypervisor!r} (expected xen)")
    guest = guest_files(kernel, req.cache, progress)
    hyp = xen.files(req.cache, progress) if req.hypervisor else None
    qemu = fetch.ensure_qemu(cpu.qemu, progress)
    xen_qemu = fetch.ensure_qemu("qemu-system-aarch64", progress) if hyp else qemu
    lib, decoder = plugin.build(req.cache, progress)
    dfilter, candidates = None, set()
    if kernel.isa == "a32":
        base = text_base(req, kernel, cpu, guest, qemu, lib, progress)
        found = cond.conditional_candidates(cond.read_image(guest.image), base, decoder)
        candidates = {addr for addr, _, _ in found}
        dfilter = cond.dfilter(found) or None
    work = Path(tempfile.mkdtemp(dir=_runs(req.cache), prefix=f"{req.kernel}-{req.workload}-"))
    try:
        initrd = work / "initrd.gz"
        initrd.write_bytes(
            initramfs.build(kernel.arch, guest.busybox, req.workload, req.iterations)
        )
        append = _append(req.workload, req.iterations, req.symbols)
        plugin_args = [f"isa={kernel.isa}", *_ranges(kernel)]
        if hyp is None:
            spec = boot.BootSpec(
                qemu, cpu.cpu_arg, req.vcpus, guest.image, append, initrd, lib, plugin_args,
                dfilter=dfilter, clock="mttcg" if kernel.arch == "arm" and req.vcpus > 1 else "icount",
            )  # fmt: skip
            progress(f"booting {req.kernel} on {req.vcpus} × {cpu.cpu_arg} ({Path(qemu).name})")
        else:
            load_sites = xen.load_sites(hyp, decoder)
            aarch32 = kernel.arch == "arm"
            spec = xen.boot_spec(
                hyp, load_sites, req, xen_qemu, guest.image, append, initrd, lib,
                plugin_args, work, aarch32, dfilter,
            )  # fmt: skip
            role = "a dom0less domU" if aarch32 else "dom0"
            progress(
                f"booting Xen with {req.kernel} as {role} ({req.guest_vcpus} vCPUs) on "
                f"{req.vcpus} × cortex-a57"
            )
        console, log_path = boot.boot(spec, work, progress, req.boot_timeout, req.run_timeout)
        log = parse(log_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not log.loaded or not log.ended:
        raise CensusError("the census plugin's report is missing from QEMU's log")
    if log.phases < 3:
        raise CensusError(f"the guest executed {log.phases - 1} of its 2 phase markers")
    table = symbols.kallsyms_from_console(console)  # (boot.boot strips Xen's line prefixes)
    if table is None and guest.system_map is not None:
        table = symbols.from_map(guest.system_map.read_text(encoding="utf-8", errors="replace"))
    resolutions = cond.resolve(log, candidates)
    version = fetch.qemu_version(spec.qemu)
    result: dict[str, Any] = {
        "kernel": req.kernel,
        "kernel_package": guest.image_package,
        "busybox_package": guest.busybox_package,
        "workload": req.workload,
        "workload_description": initramfs.WORKLOADS[req.workload],
        "iterations": req.iterations,
        "vcpus": req.vcpus,
        "cpu": cpu.name,
        "qemu": f"{Path(spec.qemu).name} -cpu {spec.cpu_arg} {spec.clock_args()} ({version})",
        "clock": {"icount": boot.ICOUNT_CLOCK, "mttcg": boot.MTTCG_CLOCK}.get(
            spec.clock, xen.CLOCK
        ),
        "command": req.command(),
        "phases": {},
    }
    stats = {m.group(1): m for m in _STAT.finditer(console)}
    for phase, name in enumerate(PHASES):
        result["phases"][name] = _phase(log, phase, stats, name, resolutions, table)
    result["conditional_sites"] = [
        {
            "address": f"0x{r.site.vaddr:x}",
            "symbol": table.name(r.site.vaddr) if table else None,
            "name": r.site.name,
            "condition": r.site.cond,
            "phase": PHASES[r.phase] if r.phase < len(PHASES) else "shutdown",
            "reached": sum(r.reached.values()),
            "executed": sum(r.executed.values()) if r.resolved else None,
            "cpu_state_entries": {"passed": r.passed_entries, "failed": r.failed_entries},
            "method": r.method,
        }
        for r in resolutions
        if r.phase < len(PHASES)
    ]
    if hyp is not None:
        result["vcpus"], result["pcpus"] = req.guest_vcpus, req.vcpus
        result["cpu"] = "cortex-a57"
        arch = Arch.AARCH32 if kernel.arch == "arm" else Arch.AARCH64
        result["hypervisor"] = xen.report(hyp, load_sites, log, PHASES, arch)
        result["hypervisor"]["guest_role"] = "dom0" if arch is Arch.AARCH64 else "dom0less domU"
    result["plugin"] = {
        "sites_dropped": log.sites_dropped,
        "ambiguous_blocks_disassembled": log.ambiguous,
    }
    return result


def _phase(
    log: PluginLog,
    phase: int,
    stats: dict[str, re.Match[str]],
    name: str,
    resolutions: list[cond.Resolution],
    table: symbols.SymbolTable | None,
) -> dict[str, Any]:
    vcpus = range(log.vcpus)
    per_vcpu: list[dict[str, int]] = [dict(log.counts.get((phase, v), {})) for v in vcpus]
    unresolved: dict[str, int] = {}
    for r in resolutions:
        if r.phase != phase:
            continue
        for v, n in r.executed.items():
            if not n:
                continue
            if r.resolved:
                per_vcpu[v][r.site.name] = per_vcpu[v].get(r.site.name, 0) + n
            else:
                unresolved[r.site.name] = unresolved.get(r.site.name, 0) + n
    counts: dict[str, int] = {}
    for c in per_vcpu:
        for k, n in c.items():
            counts[k] = counts.get(k, 0) + n
    by_range: dict[str, int] = {}
    insns_v = []
    for v in vcpus:
        in_range = log.insns.get((phase, v), {})
        insns_v.append(sum(in_range.values()))
        for k, n in in_range.items():
            by_range[k] = by_range.get(k, 0) + n
    executed_at = {
        (res.site.index, res.phase): sum(res.executed.values())
        for res in resolutions
        if res.resolved
    }
    sites: list[dict[str, Any]] = []
    for index, site in log.sites.items():
        reached = sum(n for (p, _), n in log.site_counts.get(index, {}).items() if p == phase)
        if not reached:
            continue
        count = executed_at.get((index, phase), reached) if site.conditional else reached
        if count:
            sites.append(
                {
                    "address": f"0x{site.vaddr:x}",
                    "symbol": table.name(site.vaddr) if table else None,
                    "name": site.name,
                    "count": count,
                    **(
                        {"upper_bound": True}
                        if site.conditional and (index, phase) not in executed_at
                        else {}
                    ),
                }
            )
    sites.sort(key=lambda s: (-int(s["count"]), str(s["address"])))
    out: dict[str, Any] = {
        "counts": dict(sorted(counts.items())),
        "counts_unresolved": dict(sorted(unresolved.items())),
        "instructions": sum(insns_v),
        "instructions_by_range": dict(sorted(by_range.items())),
    }
    out.update(_kernel_stats(stats, name))
    # Under the census clock (boot.ICOUNT) each guest instruction is 1 ns of guest time and
    # idle time is skipped: the phase's running vCPU-seconds are its instructions / 10^9.
    out["running_seconds"] = out["instructions"] / 1e9
    out["per_vcpu"] = [
        {"vcpu": v, "counts": dict(sorted(per_vcpu[v].items())), "instructions": insns_v[v]}
        for v in vcpus
    ]
    out["sites"] = sites
    return out


def _busy(m: re.Match[str]) -> int:
    user, nice, system, _idle, _iowait, irq, softirq = (int(m.group(i)) for i in range(5, 12))
    return user + nice + system + irq + softirq


def _kernel_stats(stats: dict[str, re.Match[str]], name: str) -> dict[str, Any]:
    """processes, context switches, guest and busy seconds of a phase, from /init's lines.

    /init reads the counters just before each marker program is spawned, so a phase's
    ``processes`` includes the marker process that ends it (boot: + 1 for the first one)."""
    b, w = stats.get("boot"), stats.get("workload")
    if b is None or w is None:
        raise CensusError("the guest's /proc/stat lines are missing from the console")
    if name == "boot":
        return {
            "processes": int(b.group(2)) + 1,
            "context_switches": int(b.group(3)),
            "guest_seconds": float(b.group(4)),
            "busy_seconds": _busy(b) / USER_HZ,
        }
    return {
        "processes": int(w.group(2)) - int(b.group(2)),
        "context_switches": int(w.group(3)) - int(b.group(3)),
        "guest_seconds": round(float(w.group(4)) - float(b.group(4)), 2),
        "busy_seconds": (_busy(w) - _busy(b)) / USER_HZ,
    }
