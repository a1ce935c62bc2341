"""Malformed litmus files: exit code 2 and exactly one line on stderr naming the file, the line
(when there is one) and what was expected; never a traceback. Run through the real CLI."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vtlbsim.litmus import LitmusError, parse

HEAD = 'pcpus = 2\nsteps = """\n'
TAIL = '"""\n\n[domains.g]\nvcpus = 2\narch = "aarch32"\n'


def script(*steps: str) -> str:
    return HEAD + "\n".join(steps) + "\n" + TAIL


# (file text, line the error must name or None, words the message must contain)
CASES = [
    (script("run g.0 on 0", "g.0 frobnicate 0x1000"), 4, "unknown step"),
    (script("run g.0 on 0", "g.0 tlbi vae9 0x1000"), 4, "unknown tlbi instruction"),
    (script("run g.0 on 0", "g.0 map 0x1000"), 4, "missing PA"),
    (script("run g.0 on 0", "g.0 load zz"), 4, "hex"),
    (script("run g.0 on 0", "h.0 load 0x1000"), 4, "unknown domain 'h'"),
    (script("run g.0 on 0", "g.5 load 0x1000"), 4, "no vCPU 5"),
    (script("run g.0 on 0", "g.1 load 0x1000"), 4, "not running"),
    (script("run g.0 on 2"), 3, "out of range"),
    (
        script("run g.0 on 0", "g.0 bp bpiall", "g.0 tlbi vae1 0x1000"),
        5,
        "does not exist on aarch32",
    ),
    (script("run g.0 on 0", "g.0 tlbi tlbiasid"), 4, "missing ASID"),
    (script("run g.0 on 0", "g.0 asid 300"), 4, "8-bit ASID"),
    (script("run g.0 on 0", "g.0 map 0x1001 0x2000"), 4, "not 4 KiB aligned"),
    (script("run g.0 0"), 3, "expected 'run DOMAIN.VCPU on PCPU'"),
    (script("run g.0 on 0", "run g.1 on 0", "g.0 load 0x1000"), 5, "not running"),
    (script("run g.0 on 0", "g.0 tlbi tlbimva 0x1000 pages=2"), 4, "unknown option"),
    (script("run g.0 on 0", "g.0 dsb everything"), 4, "unknown dsb option"),
    (HEAD.replace("pcpus = 2", "pcpus = 0") + "run g.0 on 0\n" + TAIL, 1, "pcpus must be between"),
    (HEAD.replace("pcpus = 2", 'pcpus = "two"') + "run g.0 on 0\n" + TAIL, 1, "pcpus must be"),
    ("colour = 1\n" + script("run g.0 on 0"), 1, "unknown key 'colour'"),
    (script("run g.0 on 0").replace("vcpus = 2", "vcpus = 0"), 7, "vcpus must be between"),
    (script("run g.0 on 0").replace('arch = "aarch32"', 'arch = "x86"'), 8, "aarch64"),
    (script("run g.0 on 0") + "colour = 3\n", 9, "unknown key 'colour' in [domains.g]"),
    (script("run g.0 on 0").replace("pcpus = 2", 'pcpus = 2\nexpect = "maybe"'), 2, "expect must"),
    ('pcpus = 2\nsteps = "run g.0 on 0"\n', None, "missing required key 'domains'"),
    ("pcpus = [\n", 1, "not valid TOML"),
    (script("# nothing"), 2, "no step"),
    (
        script("run g.0 on 0").replace("vcpus = 2", 'vcpus = 2\nkind = "windows"'),
        8,
        "unknown guest kind",
    ),
    (script("run g.0 on 0", "g.0 ic ivau"), 4, "missing VA"),
]


@pytest.mark.parametrize(("text", "line", "words"), CASES)
def test_bad_file_is_one_line_exit_2(
    tmp_path: Path, cli: Any, text: str, line: int | None, words: str
) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(text)
    code, out, err = cli(["litmus", str(f)])
    assert code == 2
    assert err.count("\n") == 1, err
    assert "Traceback" not in err
    prefix = f"vtlbsim: {f}:{line}: " if line else f"vtlbsim: {f}: "
    assert err.startswith(prefix), err
    assert words in err


def test_missing_file(tmp_path: Path, cli: Any) -> None:
    code, _, err = cli(["litmus", str(tmp_path / "nope.toml")])
    assert code == 2 and "no such file" in err and err.count("\n") == 1


def test_binary_file(tmp_path: Path, cli: Any) -> None:
    f = tmp_path / "bin.toml"
    f.write_bytes(b"\xff\xfe\x00\x01garbage")
    code, _, err = cli(["litmus", str(f)])
    assert code == 2 and "not a text file" in err and err.count("\n") == 1


def test_directory(tmp_path: Path, cli: Any) -> None:
    code, _, err = cli(["litmus", str(tmp_path)])
    assert code == 2 and err.count("\n") == 1


def test_unknown_policy(tmp_path: Path, cli: Any) -> None:
    f = tmp_path / "ok.toml"
    f.write_text(script("run g.0 on 0"))
    code, _, err = cli(["litmus", str(f), "--policy", "no-such"])
    assert code == 2 and "unknown policy 'no-such'" in err and err.count("\n") == 1
    code, _, err = cli(["litmus", str(f), "--policy", "nosuchmodule:Thing"])
    assert code == 2 and "cannot import" in err


def test_pinned_domain_cannot_move(tmp_path: Path, cli: Any) -> None:
    f = tmp_path / "pin.toml"
    f.write_text(
        script("run g.0 on 0", "run g.0 on 1").replace("vcpus = 2", "vcpus = 2\npinned = true")
    )
    code, _, err = cli(["litmus", str(f)])
    assert code == 2 and f"{f}:4:" in err and "pinned" in err


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=400))
def test_parser_never_raises_anything_but_litmus_error_on_text(text: str) -> None:
    try:
        parse(text, "fuzz.toml")
    except LitmusError as exc:
        assert "\n" not in str(exc)


TOKENS = [
    "run",
    "on",
    "g.0",
    "g.1",
    "h.0",
    "map",
    "unmap",
    "load",
    "fetch",
    "write-code",
    "tlbi",
    "ic",
    "bp",
    "vae1",
    "tlbimva",
    "iallu",
    "bpiall",
    "0x1000",
    "0x2000",
    "global",
    "table=t",
    "asid",
    "7",
    "-1",
    "0x",
    "dsb",
    "ish",
    "table",
    "t1",
    "pages=3",
    "asid=2",
    "#",
    "ivau",
    "99999999999999",
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TOKENS), max_size=6), max_size=8), st.booleans())
def test_parser_on_step_like_garbage(lines: list[list[str]], a32: bool) -> None:
    body = "\n".join(" ".join(ln) for ln in lines)
    text = HEAD + body + "\n" + TAIL.replace("aarch32", "aarch32" if a32 else "aarch64")
    try:
        parse(text, "fuzz.toml")
    except LitmusError as exc:
        assert "\n" not in str(exc) and str(exc).startswith("fuzz.toml")
