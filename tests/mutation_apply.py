"""List or apply mutmut's mutants of one source file without a ``mutants/`` directory:
``python tests/mutation_apply.py list FILE [GLOB]`` prints each mutant's name (as mutmut names
it, the number within its function) and its change on one line; ``python
tests/mutation_apply.py apply FILE NAME`` rewrites FILE with that mutant (``git checkout``
undoes it).

The mutants are mutmut's own (``mutmut.mutation.file_mutation.mutate_file_contents``, the
code ``mutmut run`` writes into ``mutants/``), so names and numbers match a run's. Unlike
``mutmut apply``, a method is found in its own class, so ``KeyPlan.__init__``'s mutants are
not written into ``Blocks.__init__`` (docs/testing.md, "check/key.py and keyplan.py, as
restructured for speed"). Used to recheck named survivors one pytest process each, on the
version a run measured (a checkout of its commit) or on the current one.
"""

from __future__ import annotations

import difflib
import fnmatch
import sys

import libcst as cst
from mutmut.mutation.file_mutation import mutate_file_contents
from mutmut.utils.format_utils import orig_function_and_class_names_from_key

Functions = dict[tuple[str | None, str], cst.FunctionDef]


def functions(module: cst.Module) -> Functions:
    """The module's functions and methods by (class or None, name)."""
    out: Functions = {}
    for child in module.body:
        if isinstance(child, cst.FunctionDef):
            out[(None, child.name.value)] = child
        elif isinstance(child, cst.ClassDef) and isinstance(child.body, cst.IndentedBlock):
            for m in child.body.body:
                if isinstance(m, cst.FunctionDef):
                    out[(child.name.value, m.name.value)] = m
    return out


def mutants(path: str) -> tuple[str, list[str], Functions]:
    """The file's source, its mutants' names and the generated functions (mutants included)."""
    source = open(path).read()
    mutated = mutate_file_contents(path, source)
    return source, mutated.mutant_names, functions(cst.parse_module(mutated.code))


def mutant_of(generated: Functions, name: str) -> tuple[str | None, str, cst.FunctionDef]:
    """(class, function, the mutated function under its own name) of mutant ``name``."""
    fname, cls = orig_function_and_class_names_from_key(name)
    short = name.rpartition(".")[2]
    got = generated.get((cls, short))
    if got is None:
        raise SystemExit(f"no mutant {name}")
    return cls, fname, got.with_changes(name=cst.Name(fname))


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] not in ("list", "apply") or (argv[0] == "apply" and len(argv) != 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    source, names, generated = mutants(path)
    original = functions(cst.parse_module(source))
    if argv[0] == "list":
        glob = argv[2] if len(argv) > 2 else "*"
        for name in names:
            if fnmatch.fnmatch(name, glob):
                cls, fname, fn = mutant_of(generated, name)
                before = cst.Module([original[(cls, fname)]]).code.splitlines()
                after = cst.Module([fn]).code.splitlines()
                diff = difflib.unified_diff(before, after, lineterm="", n=0)
                lines = [x.strip() for x in diff if x[:1] in "+-" and x[:3] not in ("+++", "---")]
                print(name, " || ".join(lines))
        return 0
    cls, fname, fn = mutant_of(generated, argv[2])
    module = cst.parse_module(source)
    new = module.deep_replace(functions(module)[(cls, fname)], fn)
    with open(path, "w") as out:
        out.write(new.code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
