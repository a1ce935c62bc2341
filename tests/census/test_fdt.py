"""The device-tree editor the Xen dom0less boot uses (Devicetree Specification v0.4, ch. 5)."""

from __future__ import annotations

import struct

import pytest

from vtlbsim.census import fdt


def _tree() -> fdt.Tree:
    root = fdt.Node(
        "",
        [("#address-cells", fdt.u32(2)), ("model", fdt.text("linux,dummy-virt"))],
        [fdt.Node("chosen", [("stdout-path", fdt.text("/pl011@9000000"))])],
    )
    return fdt.Tree(root, [(0x40000000, 0x1000)], 0)


def test_a_tree_survives_a_round_trip() -> None:
    tree = _tree()
    blob = fdt.build(tree)
    magic, total = struct.unpack_from(">II", blob, 0)
    assert magic == fdt.MAGIC and total == len(blob)
    assert fdt.parse(blob) == tree


def test_a_dom0less_domain_is_what_xen_reads() -> None:
    tree = _tree()
    dom = fdt.dom0less_domain(
        "domU1", 1, 262144, (0x49000000, 5448192), (0x4B000000, 883263), "x=1"
    )
    tree.root.child("chosen").children.append(dom)
    back = fdt.parse(fdt.build(tree)).root.child("chosen").child("domU1")
    props = dict(back.props)
    assert props["compatible"] == b"xen,domain\0"
    assert props["cpus"] == struct.pack(">I", 1)
    assert props["memory"] == struct.pack(">II", 0, 262144)  # KiB, 64-bit
    assert "vpl011" in props
    kernel = dict(back.child("module@49000000").props)
    assert kernel["compatible"] == b"multiboot,kernel\0multiboot,module\0"
    assert kernel["reg"] == struct.pack(">IIII", 0, 0x49000000, 0, 5448192)
    assert kernel["bootargs"] == b"x=1\0"
    ramdisk = dict(back.child("module@4b000000").props)
    assert ramdisk["compatible"] == b"multiboot,ramdisk\0multiboot,module\0"


def test_not_a_dtb() -> None:
    with pytest.raises(ValueError):
        fdt.parse(b"\0" * 64)
