"""The verdict cache's fingerprints (``check/fingerprint.py``): what counts as code, which files
a module depends on, and what the digest changes with. Expectations are written by hand for
small sources and a throw-away package, never read from the functions under test."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from vtlbsim.check.fingerprint import code_text, digest_modules, imported_files, module_closure

Q3 = '"""'


def test_code_text_drops_docstrings_standing_on_their_own_lines() -> None:
    source = (
        f"{Q3}Module doc,\n"
        f"two lines.{Q3}\n"
        "\n"
        "class C:\n"
        "    r'''raw doc'''\n"
        "    x = 1   \n"
        "\n"
        "async def g():\n"
        f"    {Q3}doc{Q3}\n"
        "    return 2\n"
        "def h():\n"
        f"    {Q3}only a docstring{Q3}\n"
        "def k():\n"
        f"    u{Q3}unicode-prefixed doc{Q3}   \n"  # blanks after the closing quotes
        "    return 3\n"
    )
    assert code_text(source) == (
        "class C:\n    x = 1\nasync def g():\n    return 2\ndef h():\ndef k():\n    return 3"
    )


def test_code_text_keeps_strings_that_are_not_docstrings() -> None:
    source = (
        'def f(): "doc"; return 1\n'  # a docstring sharing its line with code
        "def g():\n"
        "    y = 1\n"
        '    "not a docstring"\n'  # a string statement after the first statement
        "def h():\n"
        f"    {Q3}doc{Q3} ; z = 3\n"
        "def i():\n"
        f'    {Q3}doc{Q3}; z = "s"\n'  # the next statement on the docstring's line ends in a quote
        'def j(): "doc"\n'  # a docstring on the def's line
        "def m():\n"
        "    f'''an f-string is no docstring'''\n"
        "    return 4\n"
    )
    assert code_text(source) == source.rstrip("\n")


def test_code_text_cuts_comments_at_their_column_only() -> None:
    source = 'x = "#1"  # a comment\n# alone\n    \ny = 2\n'
    assert code_text(source) == 'x = "#1"\ny = 2'


def write_package(root: Path) -> None:
    """pkgfp/a first tries a relative import above the top package (skipped), then imports
    from json (not the package's), os, b (``from . import b`` names the package and b), c
    (``import pkgfp.c``), a name from d (``from .d import f``: d's file) and one from g
    (``from pkgfp.g import Z``); b imports sub and ns (a namespace package: no file);
    sub/__init__ imports from json, then c from its parent; sub/m imports n from its own
    package; e is never imported. (Looking a module up imports its parents: those must run.)"""
    p = root / "pkgfp"
    (p / "sub").mkdir(parents=True)
    (p / "ns").mkdir()
    (p / "__init__.py").write_text("")
    (p / "a.py").write_text(
        "from ... import nothing\nfrom json import dumps\nimport os\nfrom . import b\n"
        "import pkgfp.c\nfrom .d import f\nfrom pkgfp.g import Z\n"
    )
    (p / "b.py").write_text("from . import sub, ns\n")
    (p / "c.py").write_text("X = 1\n")
    (p / "d.py").write_text("def f():\n    return 1  # one\n")
    (p / "e.py").write_text("Y = 2\n")
    (p / "g.py").write_text("Z = 3\n")
    (p / "sub" / "__init__.py").write_text("from json import dumps\nfrom ..c import X\n")
    (p / "sub" / "m.py").write_text("from .n import W\n")
    (p / "sub" / "n.py").write_text("W = 4\n")


@pytest.fixture
def package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    write_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path / "pkgfp"
    for name in [m for m in sys.modules if m == "pkgfp" or m.startswith("pkgfp.")]:
        del sys.modules[name]


def test_imported_files_are_the_own_package_modules_named(package: Path) -> None:
    assert imported_files(package / "a.py", "pkgfp.a") == {
        package / "__init__.py",
        package / "b.py",
        package / "c.py",
        package / "d.py",
        package / "g.py",
    }
    # a package's __init__ resolves "." to itself, ".." to its parent
    assert imported_files(package / "sub" / "__init__.py", "pkgfp.sub") == {package / "c.py"}
    # a module two levels down resolves "." to its own package
    assert imported_files(package / "sub" / "m.py", "pkgfp.sub.m") == {package / "sub" / "n.py"}
    # a namespace package has no source file
    assert imported_files(package / "b.py", "pkgfp.b") == {
        package / "__init__.py",
        package / "sub" / "__init__.py",
    }


def test_module_closure_follows_imports_transitively_with_dotted_names(package: Path) -> None:
    closure = module_closure(["pkgfp.a"])
    assert closure == {
        package / "a.py": "pkgfp.a",
        package / "__init__.py": "pkgfp",
        package / "b.py": "pkgfp.b",
        package / "c.py": "pkgfp.c",
        package / "d.py": "pkgfp.d",
        package / "g.py": "pkgfp.g",
        package / "sub" / "__init__.py": "pkgfp.sub",
    }
    # reached from a package's __init__, names count from that package's parent
    assert module_closure(["pkgfp.sub"]) == {
        package / "sub" / "__init__.py": "pkgfp.sub",
        package / "c.py": "pkgfp.c",
    }
    assert module_closure(["pkgfp.e", "no.such.module"]) == {package / "e.py": "pkgfp.e"}


def test_the_digest_changes_with_code_and_names_not_with_prose_or_order(package: Path) -> None:
    closure = module_closure(["pkgfp.a"])
    before = digest_modules(closure)
    assert len(before) == 64 and before == digest_modules(dict(reversed(closure.items())))
    d = package / "d.py"
    d.write_text("def f():\n    '''doc'''\n    return 1  # another comment\n\n")
    assert digest_modules(closure) == before
    d.write_text("def f():\n    return 2\n")
    assert digest_modules(closure) != before
    d.write_text("def f():\n    return 1\n")
    assert digest_modules(closure) == before
    renamed = {f: ("pkgfp.zz" if n == "pkgfp.d" else n) for f, n in closure.items()}
    assert digest_modules(renamed) != before


def test_the_digest_is_sha256_over_names_and_code_texts_in_name_order(package: Path) -> None:
    """The documented form: for each file in the order of its module name, the name, a NUL,
    its code text, a NUL. Here the path order (c before d) is not the name order."""
    c, d = package / "c.py", package / "d.py"
    h = hashlib.sha256()
    for name, text in (("m.a", "def f():\n    return 1"), ("m.b", "X = 1")):
        h.update(name.encode() + b"\0" + text.encode() + b"\0")
    assert digest_modules({c: "m.b", d: "m.a"}) == h.hexdigest()
