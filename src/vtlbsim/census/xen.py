"""A shipping hypervisor checked against its own binary: Debian's Xen 4.17 on arm64, with the
Debian arm64 kernel as dom0 (QEMU ``virt,virtualization=on``; dom0's kernel and initramfs given
with QEMU's ``guest-loader`` device), more dom0 vCPUs than pCPUs, so that vCPUs of one VM take
turns on a pCPU.

How the vCPU loads are recorded (no register access in QEMU 7.2's plugin API):
``p2m_restore_state(n)`` (xen/arch/arm/p2m.c) is where Xen loads a vCPU's stage 2: it writes
VTTBR_EL2 and then, when ``p2m->last_vcpu_ran[cpu]`` holds another vCPU, flushes with
``TLBI VMALLS12E1`` (``flush_guest_tlb_local``). The census finds both instructions in the
binary (the function's extent from the xen-syms map of xen-hypervisor-4.17-arm64-dbg; the
words decoded by the plugin's own decoder). A VTTBR_EL2 write ends QEMU's translation block,
so QEMU's main loop logs the CPU state (``-d cpu -dfilter``) before the next instruction runs:
X0 there is ``n`` (the vCPU being loaded: it identifies the vCPU) and X2 the value just written
to VTTBR_EL2 (the VMID in bits [63:48]). The plugin reports an event when that next instruction
executes, and another at each TLBI in the function, with the pCPU (QEMU's vCPU index). QEMU runs
single-threaded (``-accel tcg,thread=single``), so nothing runs between a block's logged CPU
state and its first instruction: each load event follows its own CPU state in the log.

The vtlbsim ``xen`` policy is then asked, for the same sequence of loads (pCPU, vCPU, the vCPU's
previous pCPU, the VM's last vCPU on this pCPU), what it flushes; the two are compared load by
load.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..arch.ops import Arch
from ..hyp.policy import KEEP, Decision, Policy, PolicyView, VcpuInfo, VcpuLoad
from ..hyp.registry import resolve
from . import cond, fdt, fetch
from .fetch import CensusError, Progress
from .pluginlog import PluginLog
from .symbols import SymbolTable, from_map

PACKAGE = "xen-hypervisor-4.17-arm64"
LOAD_FUNCTION = "p2m_restore_state"


@dataclass(frozen=True)
class XenFiles:
    image: Path
    symbols: SymbolTable
    """Text symbols (for naming sites and finding functions)."""
    all_symbols: SymbolTable
    """Every symbol (``_end`` is not text)."""
    package: str


def files(cache: Path, progress: Progress) -> XenFiles:
    """Xen's image (xen-hypervisor-4.17-arm64) and its symbol map (the -dbg package)."""
    tree, ident = fetch.fetch(cache, PACKAGE, "arm64", progress)
    dbg, _ = fetch.fetch(cache, PACKAGE + "-dbg", "arm64", progress)
    images = sorted((tree / "boot").glob("xen-*-arm64"))
    maps = sorted(dbg.rglob("xen-syms-*.map"))
    if not images or not maps:
        raise CensusError(f"{ident}: no boot/xen-*-arm64 image or xen-syms map in the packages")
    text = maps[0].read_text(encoding="utf-8", errors="replace")
    return XenFiles(images[0], from_map(text), from_map(text, None), ident)


@dataclass(frozen=True)
class LoadSites:
    """Addresses in Xen's load function: after its VTTBR_EL2 write, and its TLBIs."""

    after_vttbr: int
    tlbis: dict[int, str]
    function: tuple[int, int]
    after_hcr: int | None = None
    """After the HCR_EL2 write (the logged X2 is the value written), if the function has one."""


def load_sites(xen: XenFiles, decoder: Path) -> LoadSites:
    """Find the VTTBR_EL2 write and the TLBIs in ``p2m_restore_state`` of this Xen binary."""
    extent = xen.symbols.extent(LOAD_FUNCTION)
    start = xen.symbols.address("_start")
    if extent is None or start is None:
        raise CensusError(f"{PACKAGE}: no {LOAD_FUNCTION} or _start in the symbol map")
    image = xen.image.read_bytes()
    vttbr, hcr, tlbis = [], [], {}
    for addr in range(extent[0], extent[1], 4):
        off = addr - start
        word = int.from_bytes(image[off : off + 4], "little")
        name, _ = cond.decode(decoder, 0, word)
        if name == "msr vttbr_el2":
            vttbr.append(addr)
        elif name == "msr hcr_el2":
            hcr.append(addr)
        elif name is not None and name.startswith(("vmalls12e1", "alle1", "vmalle1")):
            tlbis[addr] = name
    if len(vttbr) != 1:
        raise CensusError(
            f"{PACKAGE}: expected one VTTBR_EL2 write in {LOAD_FUNCTION}, found {len(vttbr)}"
        )
    return LoadSites(vttbr[0] + 4, tlbis, extent, hcr[0] + 4 if len(hcr) == 1 else None)


def event_args(sites: LoadSites) -> list[str]:
    """The plugin options that report the loads and the flushes."""
    args = [f"event={sites.after_vttbr:x}:load"]
    args += [f"event={a:x}:flush-{n}" for a, n in sorted(sites.tlbis.items())]
    return args


@dataclass
class Load:
    """One vCPU load as the binary did it."""

    seq: int
    phase: int
    pcpu: int
    vcpu_ptr: int
    vmid: int
    flushes: list[str] = field(default_factory=list)


def loads(log: PluginLog, sites: LoadSites) -> list[Load]:
    """The loads, in execution order, each with the vCPU (X0) and VMID (VTTBR_EL2 written) from
    the CPU state logged just before it, and the flushes the function then executed."""
    states = [s for s in log.a64_states if s.pc == sites.after_vttbr]
    out: list[Load] = []
    last_on: dict[int, Load] = {}
    si = 0
    latest = None
    for ev in sorted(log.events, key=lambda e: e.position):
        while si < len(states) and states[si].position < ev.position:
            latest = states[si]
            si += 1
        if ev.name == "load":
            if latest is None:
                raise CensusError("a vCPU load has no CPU state logged before it")
            load = Load(ev.seq, ev.phase, ev.vcpu, latest.x[0], (latest.x[2] >> 48) & 0xFFFF)
            out.append(load)
            last_on[ev.vcpu] = load
            latest = None
        elif ev.name.startswith("flush-"):
            if ev.vcpu not in last_on:
                raise CensusError("a flush in the load function with no load before it")
            last_on[ev.vcpu].flushes.append(ev.name.removeprefix("flush-"))
    return out


class _PolicyState:
    """A policy's own state (PolicyView slots), kept as the engine keeps it, load after load."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.vm: dict[int, Any] = {}
        self.vm_pcpu: dict[tuple[int, int], Any] = {}
        self.pcpu: dict[int, Any] = {}
        self.vcpu: dict[int, Any] = {}

    def view(self, vmid: int, pcpu: int, vcpu: int) -> PolicyView:
        p = self.policy
        return PolicyView(
            self.vm.get(vmid, p.initial_vm),
            self.vm_pcpu.get((vmid, pcpu), p.initial_vm_pcpu),
            self.pcpu.get(pcpu, p.initial_pcpu),
            self.vcpu.get(vcpu, p.initial_vcpu),
        )

    def decide(self, load: VcpuLoad) -> list[str]:
        """The names of the operations the policy executes for ``load``; its state updated."""
        out = self.policy.on_load(load)
        if not isinstance(out, Decision):
            return sorted(op.name for op in out)
        vmid, pcpu, vcpu = load.vcpu.vmid, load.pcpu, load.vcpu.vcpu
        for slot, key, table in (
            (out.vm, vmid, self.vm),
            (out.vm_pcpu, (vmid, pcpu), self.vm_pcpu),
            (out.pcpu, pcpu, self.pcpu),
            (out.vcpu, vcpu, self.vcpu),
        ):
            if slot is not KEEP:
                table[key] = slot  # type: ignore[index]
        return sorted(op.name for op in out.ops)


def compare(
    sequence: list[Load], phases: tuple[str, ...], arch: Arch = Arch.AARCH64
) -> dict[str, Any]:
    """The binary's flushes against the ``xen`` policy's, load by load, per phase. The policy
    sees each load as vtlbsim's engine would show it (the vCPU's previous pCPU, the VM's last
    vCPU on this pCPU, its own state) and its state carries over from phase to phase."""
    state = _PolicyState(resolve("xen"))
    labels: dict[int, int] = {}
    for ld in sequence:
        labels.setdefault(ld.vcpu_ptr, len(labels))
    per_vmid = Counter(ld.vmid for ld in {ld.vcpu_ptr: ld for ld in sequence}.values())
    last_pcpu: dict[int, int] = {}
    last_here: dict[tuple[int, int], int] = {}
    out: dict[str, Any] = {}
    for name in phases:
        out[name] = {
            "loads": 0,
            "loads_by_situation": Counter(),
            "flushes_binary": Counter(),
            "flushes_policy": Counter(),
            "disagreements": [],
        }
    for ld in sequence:
        v = labels[ld.vcpu_ptr]
        info = VcpuInfo(f"vmid{ld.vmid}", v, ld.vmid, arch, per_vmid[ld.vmid])
        load = VcpuLoad(
            info,
            ld.pcpu,
            last_pcpu.get(v),
            last_here.get((ld.vmid, ld.pcpu)),
            state.view(ld.vmid, ld.pcpu, v),
        )
        predicted = state.decide(load)
        measured = sorted(ld.flushes)
        last_pcpu[v] = ld.pcpu
        last_here[(ld.vmid, ld.pcpu)] = v
        if ld.phase >= len(phases):
            continue
        ph = out[phases[ld.phase]]
        ph["loads"] += 1
        moved = "migrate" if load.migrated else ("first" if load.last_pcpu is None else "stay")
        who = (
            "empty"
            if load.last_vcpu_here is None
            else ("self" if load.last_vcpu_here == v else "other")
        )
        ph["loads_by_situation"][f"{moved}-{who}"] += 1
        ph["flushes_binary"].update(measured)
        ph["flushes_policy"].update(predicted)
        if predicted != measured and len(ph["disagreements"]) < 20:
            ph["disagreements"].append(
                {
                    "seq": ld.seq,
                    "pcpu": ld.pcpu,
                    "vcpu": v,
                    "last_pcpu": load.last_pcpu,
                    "last_vcpu_here": load.last_vcpu_here,
                    "binary": measured,
                    "policy": predicted,
                }
            )
    for ph in out.values():
        ph["agree"] = ph["flushes_binary"] == ph["flushes_policy"] and not ph["disagreements"]
        for k in ("loads_by_situation", "flushes_binary", "flushes_policy"):
            ph[k] = dict(sorted(ph[k].items()))
    out["vcpus"] = {f"vmid{vmid}": n for vmid, n in sorted(per_vmid.items())}
    return out


def hcr_check(values: Counter[int]) -> dict[str, Any]:
    """HCR_EL2 as the binary wrote it at each load against the ``xen`` policy's ``hcr()``:
    FB is bit 9, BSU bits [11:10] (0b01: Inner Shareable), TTLB bit 25 (Arm ARM, HCR_EL2)."""
    policy = resolve("xen").hcr(VcpuInfo("dom0", 0, 1, Arch.AARCH64, 1))
    written = [
        {
            "value": f"0x{v:x}",
            "fb": bool(v >> 9 & 1),
            "bsu_inner_shareable": (v >> 10 & 3) == 1,
            "ttlb": bool(v >> 25 & 1),
            "times": n,
        }
        for v, n in sorted(values.items())
    ]
    binary = {(w["fb"], w["bsu_inner_shareable"], w["ttlb"]) for w in written}
    return {
        "written": written,
        "policy": {"fb": policy.fb, "bsu_inner_shareable": policy.bsu, "ttlb": policy.ttlb},
        "agree": bool(written) and binary == {(policy.fb, policy.bsu, policy.ttlb)},
    }


CLOCK = (
    "QEMU TCG, single-threaded, without -icount (Xen 4.17 does not finish booting under "
    "-icount here): the guest clock follows the host's, so guest seconds are not comparable"
)
MEMORY_MB = 1024
DOM0_MEMORY = "512M"
DOMU_MEMORY_KIB = 256 * 1024
DOMU_KERNEL_AT = 0x49000000
DOMU_INITRD_AT = 0x4B000000
"""Where QEMU loads a dom0less guest's zImage and initramfs (RAM starts at 0x40000000)."""


def boot_spec(
    hyp: XenFiles,
    sites: LoadSites,
    req: Any,
    qemu: str,
    kernel: Path,
    append: str,
    initrd: Path,
    lib: Path,
    plugin_args: list[str],
    work: Path,
    aarch32: bool,
    guest_dfilter: str | None = None,
) -> Any:
    """Xen on ``req.vcpus`` pCPUs with the guest kernel as a ``req.guest_vcpus``-vCPU VM:
    dom0 for an arm64 kernel (QEMU's guest-loader device passes kernel and initramfs); for an
    arm32 kernel, a dom0less domU (no dom0: Xen 4.17 builds it from ``/chosen/domU1`` in the
    device tree, edited here from QEMU's own, with its kernel and initramfs loaded by QEMU's
    generic loader), which gets a 32-bit EL1 on the Armv8 core: the situation of a 32-bit guest
    on an Armv8 server, which QEMU cannot give a bare guest under TCG."""
    from .boot import BootSpec

    start, end = hyp.all_symbols.address("_start"), hyp.all_symbols.address("_end")
    if start is None or end is None:
        raise CensusError(f"{hyp.package}: no _start or _end in the symbol map")
    common = ["console=dtuart", "guest_loglvl=all", "loglvl=warning"]
    args = [plugin_args[0], f"range=xen:{start:x}:{end:x}", *plugin_args[1:], *event_args(sites)]
    if aarch32:
        args.insert(1, f"a64range={start:x}:{end:x}")
        base = work / "virt.dtb"
        fetch.run(
            [qemu, "-M", f"virt,virtualization=on,dumpdtb={base}", "-cpu", "cortex-a57",
             "-smp", str(req.vcpus), "-m", str(MEMORY_MB), "-display", "none", "-nic", "none"],
            "dumping QEMU's device tree",
        )  # fmt: skip
        tree = fdt.parse(base.read_bytes())
        chosen = tree.root.child("chosen")
        chosen.props += [("#address-cells", fdt.u32(2)), ("#size-cells", fdt.u32(2))]
        chosen.children.append(
            fdt.dom0less_domain(
                "domU1",
                req.guest_vcpus,
                DOMU_MEMORY_KIB,
                (DOMU_KERNEL_AT, kernel.stat().st_size),
                (DOMU_INITRD_AT, initrd.stat().st_size),
                append,
            )
        )
        dtb = work / "dom0less.dtb"
        dtb.write_bytes(fdt.build(tree))
        xen_append = " ".join(common)
        extra = [
            "-dtb", str(dtb),
            "-device", f"loader,file={kernel},addr=0x{DOMU_KERNEL_AT:x},force-raw=on",
            "-device", f"loader,file={initrd},addr=0x{DOMU_INITRD_AT:x},force-raw=on",
        ]  # fmt: skip
    else:
        dom0 = append.replace("console=ttyAMA0", "console=hvc0 earlycon=xen")
        xen_append = " ".join(
            [
                f"dom0_mem={DOM0_MEMORY},max:{DOM0_MEMORY}",
                f"dom0_max_vcpus={req.guest_vcpus}",
                *common,
            ]
        )
        extra = [
            "-device", f"guest-loader,addr=0x49000000,kernel={kernel},bootargs={dom0}",
            "-device", f"guest-loader,addr=0x50000000,initrd={initrd}",
        ]  # fmt: skip
    return BootSpec(
        qemu,
        "cortex-a57",
        req.vcpus,
        hyp.image,
        xen_append,
        None,
        lib,
        args,
        machine="virt,virtualization=on",
        memory_mb=MEMORY_MB,
        dfilter=",".join(
            [f"0x{a:x}+4" for a in (sites.after_vttbr, sites.after_hcr) if a]
            + ([guest_dfilter] if guest_dfilter else [])
        ),
        extra=extra,
        clock="single",
        stop_when_done=aarch32,
    )


def report(
    hyp: XenFiles,
    sites: LoadSites,
    log: PluginLog,
    phases: tuple[str, ...],
    arch: Arch,
) -> dict[str, Any]:
    """The hypervisor section of the census JSON: Xen's EL2 maintenance by site and the load
    comparison with the ``xen`` policy."""
    start, end = hyp.all_symbols.address("_start"), hyp.all_symbols.address("_end")
    assert start is not None and end is not None  # checked by boot_spec
    el2: dict[str, dict[str, int]] = {name: {} for name in phases}
    el2_sites: dict[str, list[dict[str, Any]]] = {name: [] for name in phases}
    for index, site in log.sites.items():
        if not start <= site.vaddr < end:
            continue
        for p, name in enumerate(phases):
            n = sum(c for (ph, _), c in log.site_counts.get(index, {}).items() if ph == p)
            if n:
                el2[name][site.name] = el2[name].get(site.name, 0) + n
                el2_sites[name].append(
                    {
                        "address": f"0x{site.vaddr:x}",
                        "symbol": hyp.symbols.name(site.vaddr),
                        "name": site.name,
                        "count": n,
                    }  # fmt: skip
                )
    hcr_values = Counter(st.x[2] for st in log.a64_states if st.pc == sites.after_hcr)
    sequence = loads(log, sites)
    comparison = compare(sequence, phases, arch)
    out: dict[str, Any] = {
        "name": "xen",
        "package": hyp.package,
        "load_function": {
            "name": LOAD_FUNCTION,
            "extent": [f"0x{sites.function[0]:x}", f"0x{sites.function[1]:x}"],
            "after_vttbr_write": f"0x{sites.after_vttbr:x}",
            "tlbis": {f"0x{a:x}": n for a, n in sorted(sites.tlbis.items())},
        },
        "vcpus_seen": comparison.pop("vcpus"),
        "hcr_el2": hcr_check(hcr_values),
        "phases": {},
    }
    for name in phases:
        out["phases"][name] = {
            "el2_counts": dict(sorted(el2[name].items())),
            "el2_sites": sorted(el2_sites[name], key=lambda s: -int(s["count"])),
            **comparison[name],
        }
    return out
