"""The kernels the census boots, and the QEMU CPU models it boots them on.

- ``debian-arm64``: Debian 12's arm64 kernel (``linux-image-arm64``), on a Cortex-A57.
- ``debian-armmp``: Debian 12's armhf multiplatform kernel (``linux-image-armmp``: SMP_ON_UP,
  A32, short descriptors), on a Cortex-A15 (``qemu-system-arm``: an Armv7 core).
- ``armhf-up``: the same source and configuration built with CONFIG_SMP=n by
  ``scripts/build-armhf-up.sh`` (not a Debian package), on the same CPU.

An AArch32 EL1 on an Armv8 core (``qemu-system-aarch64 -cpu cortex-a57,aarch64=off``) is what a
32-bit guest sees on an Armv8 server, but QEMU 7.2 refuses it without KVM ("'aarch64' feature
cannot be disabled unless KVM is enabled"), and a zImage given to an AArch64 CPU does not boot:
under TCG the census can only run arm32 kernels on an Armv7 CPU model (docs/census.md says what
that changes: the Spectre-v2 context-switch hardening is chosen by MIDR).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CpuModel:
    """How QEMU presents a CPU: the binary and the ``-cpu`` value."""

    name: str
    qemu: str
    cpu_arg: str
    note: str


@dataclass(frozen=True)
class Kernel:
    """A kernel the census can boot."""

    name: str
    arch: str
    """The guest's EL1 as the programs are built for it: "aarch64" or "arm"."""
    isa: str
    """The plugin's ``isa=`` option: "a64" or "a32"."""
    deb_arch: str
    """Debian architecture of the kernel and busybox packages."""
    metapackage: str | None
    """The Debian package that depends on the current kernel (None: built locally)."""
    image_prefix: str
    """The kernel image inside the package: ``boot/`` + this prefix."""
    cpus: tuple[CpuModel, ...]
    ranges: tuple[tuple[str, int, int], ...]
    """Address ranges the instruction totals are split by (name, low, high exclusive)."""
    description: str

    @property
    def default_cpu(self) -> CpuModel:
        return self.cpus[0]

    def cpu(self, name: str | None) -> CpuModel:
        """The CPU model called ``name`` (None: the default); KeyError if it has none."""
        if name is None:
            return self.default_cpu
        for c in self.cpus:
            if c.name == name:
                return c
        raise KeyError(name)


A57 = CpuModel("cortex-a57", "qemu-system-aarch64", "cortex-a57", "Armv8 (AArch64)")
A15 = CpuModel("cortex-a15", "qemu-system-arm", "cortex-a15", "Armv7 core (an Armv7 host)")

_A64_RANGES = (("kernel", 0xFFFF000000000000, 0xFFFFFFFFFFFFFFFF), ("user", 0, 1 << 48))
# arm32 VMSPLIT_3G: the kernel (and modules at 0xbf000000) above 0xbf000000, user below; the
# zImage decompressor runs at physical addresses and is counted as "user" in the boot phase.
_A32_RANGES = (("kernel", 0xBF000000, 0x100000000), ("user", 0, 0xBF000000))

KERNELS: dict[str, Kernel] = {
    k.name: k
    for k in (
        Kernel(
            "debian-arm64",
            "aarch64",
            "a64",
            "arm64",
            "linux-image-arm64",
            "vmlinuz-",
            (A57,),
            _A64_RANGES,
            "Debian 12 arm64 kernel (SMP; KPTI forced on by KASLR on a Cortex-A57)",
        ),
        Kernel(
            "debian-armmp",
            "arm",
            "a32",
            "armhf",
            "linux-image-armmp",
            "vmlinuz-",
            (A15,),
            _A32_RANGES,
            "Debian 12 armhf multiplatform kernel (SMP_ON_UP: SMP maintenance on 1 vCPU)",
        ),
        Kernel(
            "armhf-up",
            "arm",
            "a32",
            "armhf",
            None,
            "zImage",
            (A15,),
            _A32_RANGES,
            "Debian 12 armhf source and armmp config built with CONFIG_SMP=n "
            "(scripts/build-armhf-up.sh)",
        ),
    )
}
"""Every kernel ``--kernel`` accepts."""
