"""A flattened device tree (the DTB QEMU dumps) read, extended and written back, to give Xen a
dom0less guest (Xen's docs/misc/arm/device-tree/booting.txt: ``/chosen/domU*`` nodes with
``compatible = "xen,domain"`` and ``multiboot,kernel`` / ``multiboot,ramdisk`` modules).

Format: Devicetree Specification v0.4, chapter 5 (header, memory reservation block, structure
block of FDT_BEGIN_NODE / FDT_PROP / FDT_END_NODE tokens, strings block)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = 0xD00DFEED
BEGIN_NODE, END_NODE, PROP, NOP, END = 1, 2, 3, 4, 9


@dataclass
class Node:
    name: str
    props: list[tuple[str, bytes]] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)

    def child(self, name: str) -> Node:
        for c in self.children:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass
class Tree:
    root: Node
    reserved: list[tuple[int, int]]
    boot_cpuid: int


def _pad(n: int) -> int:
    return (n + 3) & ~3


def parse(blob: bytes) -> Tree:
    """The tree of a DTB; ValueError if it is not one."""
    if len(blob) < 40 or struct.unpack_from(">I", blob, 0)[0] != MAGIC:
        raise ValueError("not a flattened device tree")
    (_, _, off_struct, off_strings, off_rsv, _, _, boot_cpuid, _, size_struct) = struct.unpack_from(
        ">10I", blob, 0
    )
    reserved = []
    pos = off_rsv
    while True:
        addr, size = struct.unpack_from(">QQ", blob, pos)
        pos += 16
        if addr == 0 and size == 0:
            break
        reserved.append((addr, size))

    def string(off: int) -> str:
        end = blob.index(b"\0", off_strings + off)
        return blob[off_strings + off : end].decode()

    pos, root = off_struct, None
    stack: list[Node] = []
    while pos < off_struct + size_struct:
        (tok,) = struct.unpack_from(">I", blob, pos)
        pos += 4
        if tok == BEGIN_NODE:
            end = blob.index(b"\0", pos)
            node = Node(blob[pos:end].decode())
            pos = _pad(end + 1)
            if stack:
                stack[-1].children.append(node)
            else:
                root = node
            stack.append(node)
        elif tok == END_NODE:
            stack.pop()
        elif tok == PROP:
            length, nameoff = struct.unpack_from(">II", blob, pos)
            pos += 8
            stack[-1].props.append((string(nameoff), blob[pos : pos + length]))
            pos = _pad(pos + length)
        elif tok == NOP:
            continue
        elif tok == END:
            break
        else:
            raise ValueError(f"bad structure token {tok}")
    if root is None:
        raise ValueError("empty device tree")
    return Tree(root, reserved, boot_cpuid)


def build(tree: Tree) -> bytes:
    """The DTB of ``tree`` (version 17)."""
    strings: dict[str, int] = {}
    table = bytearray()
    struct_block = bytearray()

    def name_off(name: str) -> int:
        if name not in strings:
            strings[name] = len(table)
            table.extend(name.encode() + b"\0")
        return strings[name]

    def emit(node: Node) -> None:
        struct_block.extend(struct.pack(">I", BEGIN_NODE))
        raw = node.name.encode() + b"\0"
        struct_block.extend(raw + b"\0" * (_pad(len(raw)) - len(raw)))
        for name, value in node.props:
            struct_block.extend(struct.pack(">III", PROP, len(value), name_off(name)))
            struct_block.extend(value + b"\0" * (_pad(len(value)) - len(value)))
        for c in node.children:
            emit(c)
        struct_block.extend(struct.pack(">I", END_NODE))

    emit(tree.root)
    struct_block.extend(struct.pack(">I", END))
    rsv = b"".join(struct.pack(">QQ", a, s) for a, s in tree.reserved) + bytes(16)
    off_rsv = 40
    off_struct = off_rsv + len(rsv)
    off_strings = off_struct + len(struct_block)
    total = off_strings + len(table)
    header = struct.pack(
        ">10I", MAGIC, total, off_struct, off_strings, off_rsv, 17, 16, tree.boot_cpuid,
        len(table), len(struct_block),
    )  # fmt: skip
    return header + rsv + bytes(struct_block) + bytes(table)


def u32(*values: int) -> bytes:
    return b"".join(struct.pack(">I", v) for v in values)


def text(*values: str) -> bytes:
    return b"".join(v.encode() + b"\0" for v in values)


def dom0less_domain(
    name: str, vcpus: int, memory_kib: int, kernel: tuple[int, int], ramdisk: tuple[int, int],
    bootargs: str,
) -> Node:  # fmt: skip
    """A ``/chosen`` child Xen builds a domain from at boot (address/size cells: 2)."""
    kaddr, ksize = kernel
    raddr, rsize = ramdisk
    return Node(
        name,
        [
            ("compatible", text("xen,domain")),
            ("#address-cells", u32(2)),
            ("#size-cells", u32(2)),
            ("cpus", u32(vcpus)),
            ("memory", u32(0, memory_kib)),
            ("vpl011", b""),
        ],
        [
            Node(
                f"module@{kaddr:x}",
                [
                    ("compatible", text("multiboot,kernel", "multiboot,module")),
                    ("reg", u32(kaddr >> 32, kaddr & 0xFFFFFFFF, ksize >> 32, ksize & 0xFFFFFFFF)),
                    ("bootargs", text(bootargs)),
                ],
            ),
            Node(
                f"module@{raddr:x}",
                [
                    ("compatible", text("multiboot,ramdisk", "multiboot,module")),
                    ("reg", u32(raddr >> 32, raddr & 0xFFFFFFFF, rsize >> 32, rsize & 0xFFFFFFFF)),
                ],
            ),
        ],
    )
