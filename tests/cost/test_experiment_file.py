"""Experiment files (cost/experiment.py): each bad field gives the one line the user sees, with
the file, the line of the offending key and the field, and says what was expected; ``N*name``
items, instruction names and a run's ``set`` overrides, by hand.

The file below (``BASE``), numbered for the expected line numbers; ``PLAT`` is the round test
profile ``data/anchor-round.toml`` (one socket of 4 cores)::

     1 name = "tiny"                 13 name = "solo"
     2 source = "a test"             14 count = 1
     3 platform = "PLAT"             15 cpus = "spread"
     4 role = "calibrate"            16 work_ns = 0
     5 [[actors]]                    17 ops = ["2*vae1is", "dsb", "vmalle1is"]
     6 name = "vm"                   18 [[runs]]
     7 count = 2                     19 name = "base"
     8 cpus = "packed"               20 measured = { metric = "iteration_ns", actor = "solo", ... }
     9 work_ns = 1000                21 [[runs]]
    10 ops = ["vale1is"]             22 name = "more"
    11 guest = { kind = ..., ... }   23 set = { "solo.ops" = ["4*vae1is"] }
    12 [[actors]]                    24 measured = { ..., relative_to = "base" }
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim.arch.ops import HYP_OPS, Arch
from vtlbsim.cost.experiment import (
    ExperimentError,
    experiment_from_text,
    load_experiment,
    parse_op,
    platform_for,
    resolve_op,
)

PLAT = str(Path(__file__).parent / "data" / "anchor-round.toml")
BASE = f"""name = "tiny"
source = "a test"
platform = "{PLAT}"
role = "calibrate"
[[actors]]
name = "vm"
count = 2
cpus = "packed"
work_ns = 1000
ops = ["vale1is"]
guest = {{ kind = "linux-arm64-smp", policy = "fb", vcpus = 2 }}
[[actors]]
name = "solo"
count = 1
cpus = "spread"
work_ns = 0
ops = ["2*vae1is", "dsb", "vmalle1is"]
[[runs]]
name = "base"
measured = {{ metric = "iteration_ns", actor = "solo", value = 4000 }}
[[runs]]
name = "more"
set = {{ "solo.ops" = ["4*vae1is"] }}
measured = {{ metric = "iteration_ns", actor = "solo", value = 2.0, relative_to = "base" }}
"""
FIGURE_NAMES = (
    "cores, sockets, clock_ghz, l1i_tlb_entries, l1i_tlb_ways, l1d_tlb_entries, l1d_tlb_ways, "
    "l2_tlb_entries, l2_tlb_ways, page_size, icache_kib, icache_line_bytes, icache_ways, "
    "tlbi_local_cycles, dvm_op_cycles, dvm_sync_cycles, dvm_receive_cycles, dvm_socket_factor, "
    "dvm_scope, walk_2stage_cycles, icache_line_refill_cycles, ic_iallu_cycles, "
    "bp_retrain_cycles, bp_visible, bpiall_fb_upgrade, trap_roundtrip_cycles, vcpu_switch_cycles"
)


def test_the_base_file_is_good_and_its_overrides_apply_to_their_actor(tmp_path: Path) -> None:
    f = tmp_path / "tiny.toml"
    f.write_text(BASE)
    exp = load_experiment(f)
    assert (exp.name, exp.role, exp.path, exp.base_dir) == (
        "tiny",
        "calibrate",
        str(f),
        str(tmp_path.resolve()),
    )
    assert exp.run("more").name == "more" and exp.run("base").measured is not None
    vm, solo = exp.actors_for(exp.run("more"))
    assert solo.ops == ["4*vae1is"] and solo.count == 1 and solo.cpus == "spread"
    assert vm == exp.actors[0]  # "solo.ops" leaves vm alone
    assert exp.actors_for(exp.run("base")) == exp.actors


# (what is replaced, by what, the message after "FILE")
BAD = [
    # a field validator's text without pydantic's "Value error, "
    (
        'cpus = "spread"',
        'cpus = "nowhere"',
        ":15: actors[1].cpus: expected 'spread', 'packed', 'same-socket' or 'socket:N'",
    ),
    (
        'ops = ["2*vae1is", "dsb", "vmalle1is"]',
        'ops = ["2*vae1is", "two*dsb"]',
        ":17: actors[1].ops: 'two*dsb': expected 'name' or 'N*name'",
    ),
    # an unknown field lists the fields of the table it is in
    (
        "work_ns = 0",
        "work_ns = 0\ncolour = 1",
        ":17: actors[1].colour: unknown field (expected one of: name, count, cpus, work_ns, ops, guest)",
    ),
    (
        'policy = "fb", vcpus = 2 }',
        'policy = "fb", vcpus = 2, pin = 1 }',
        ":11: actors[0].guest.pin: unknown field (expected one of: kind, policy, vcpus)",
    ),
    (
        'actor = "solo", value = 4000 }',
        'actor = "solo", value = 4000, unit = "ns" }',
        ":20: runs[0].measured.unit: unknown field (expected one of: metric, actor, value, relative_to)",
    ),
    (
        'name = "base"',
        'name = "base"\nrepeat = 3',
        ":20: runs[0].repeat: unknown field (expected one of: name, set, platform_set, measured)",
    ),
    (
        'role = "calibrate"',
        'role = "calibrate"\ncolour = "red"',
        ":5: colour: unknown field (expected one of: name, title, source, quote, method, "
        "verified, platform, role, actors, runs)",
    ),
    # a missing field has no line of its own; a literal lists what it may be
    ('source = "a test"\n', "", ": source: required field is missing"),
    ('role = "calibrate"', 'role = "maybe"', ":4: role: expected one of 'calibrate' or 'validate'"),
    ("count = 1", "count = -1", ":14: actors[1].count: Input should be greater than or equal to 0"),
    # cross-field rules (_check)
    ('name = "solo"', 'name = "vm"', ": actors: two actors share a name"),
    ('name = "more"', 'name = "base"', ":22: runs[1].name: 'base': an earlier run has this name"),
    (
        '"solo.ops"',
        '"ghost.ops"',
        ":23: runs[1].set: 'ghost.ops': unknown actor 'ghost' (expected ACTOR.FIELD, ACTOR one "
        "of: vm, solo)",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo" = 4',
        ":23: runs[1].set: 'solo': unknown actor 'solo' (expected ACTOR.FIELD, ACTOR one of: "
        "vm, solo)",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo.guest" = 4',
        ":23: runs[1].set: 'solo.guest': cannot set 'guest' (expected one of: count, cpus, "
        "work_ns, ops)",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo.count" = -2',
        ":23: runs[1].set: 'solo.count': Input should be greater than or equal to 0",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo.cpus" = "here"',
        ":23: runs[1].set: 'solo.cpus': expected 'spread', 'packed', 'same-socket' or 'socket:N'",
    ),
    (
        'actor = "solo", value = 4000',
        'actor = "ghost", value = 4000',
        ":20: runs[0].measured: actor: unknown actor 'ghost' (expected one of: vm, solo)",
    ),
    (
        'relative_to = "base"',
        'relative_to = "more"',
        ":24: runs[1].measured: relative_to: no other run named 'more' (runs: base, more)",
    ),
    (
        'relative_to = "base"',
        'relative_to = "later"',
        ":24: runs[1].measured: relative_to: no other run named 'later' (runs: base, more)",
    ),
    # anchor-round has one socket
    (
        'cpus = "spread"',
        'cpus = "socket:1"',
        ":15: actors[1].cpus: 'socket:1': anchor-round has sockets 0..0",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo.cpus" = "socket:2"',
        ":23: runs[1].set: 'socket:2': anchor-round has sockets 0..0",
    ),
    # instructions resolve for the actor's architecture (a guest's kind gives it)
    (
        'ops = ["2*vae1is", "dsb", "vmalle1is"]',
        'ops = ["2*vae1is", "dsb", "3*tlbiall"]',
        ":17: actors[1].ops: unknown instruction 'tlbiall' (an aarch64 instruction, a "
        "hypervisor flush, or dsb)",
    ),
    (
        '"solo.ops" = ["4*vae1is"]',
        '"solo.ops" = ["nosuchop"]',
        ":23: runs[1].set: unknown instruction 'nosuchop' (an aarch64 instruction, a hypervisor "
        "flush, or dsb)",
    ),
    (
        'ops = ["vale1is"]',
        'ops = ["tlbimvais"]',
        ":10: actors[0].ops: unknown instruction 'tlbimvais' (an aarch64 instruction, a "
        "hypervisor flush, or dsb)",
    ),
    # a run's platform overrides
    (
        'name = "base"',
        'name = "base"\nplatform_set = { warp = 9 }',
        f":20: runs[0].platform_set: 'warp': unknown figure (expected one of: {FIGURE_NAMES})",
    ),
    (
        'name = "base"',
        'name = "base"\nplatform_set = { dvm_scope = "everywhere" }',
        ":20: runs[0].platform_set: dvm_scope: Input should be 'system', 'socket' or 'filtered'",
    ),
]


EXTRA = [
    # a dotted key is found by its name when no "key =" line holds it
    (
        'role = "calibrate"',
        'role = "calibrate"\ncolour.shade = "red"',
        ":5: colour: unknown field (expected one of: name, title, source, quote, method, "
        "verified, platform, role, actors, runs)",
    ),
    # the first line of the file is line 1
    ('name = "tiny"', 'name = ""', ":1: name: String should have at least 1 character"),
    # upper-case keys are keys too
    (
        "work_ns = 0",
        "work_ns = 0\nColour = 1",
        ":17: actors[1].Colour: unknown field (expected one of: name, count, cpus, work_ns, "
        "ops, guest)",
    ),
    # a field missing from the first actor is not looked for in the second
    ("count = 2\n", "", ": actors[0].count: required field is missing"),
]


@pytest.mark.parametrize(("old", "new", "message"), BAD + EXTRA)
def test_a_bad_experiment_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in BASE
    f = tmp_path / "bad.toml"
    f.write_text(BASE.replace(old, new, 1))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}{message}"


def test_a_guest_s_kind_and_policy_must_exist(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BASE.replace('kind = "linux-arm64-smp"', 'kind = "no-such-kind"'))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value).startswith(f"{f}:11: actors[0].guest: kind: ")
    assert "no-such-kind" in str(exc.value)
    f.write_text(BASE.replace('policy = "fb"', 'policy = "no-such-policy"'))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value).startswith(f"{f}:11: actors[0].guest: policy: ")
    assert "no-such-policy" in str(exc.value)


def test_an_aarch32_guest_names_aarch32_instructions(tmp_path: Path) -> None:
    """A guest actor's instructions are its kind's architecture's: TLBIMVAIS is an AArch32
    instruction, refused for the AArch64 ``solo`` above, accepted for an arm32 guest."""
    f = tmp_path / "a32.toml"
    f.write_text(
        BASE.replace('ops = ["vale1is"]', 'ops = ["tlbimvais"]').replace(
            "linux-arm64-smp", "linux-arm32-up"
        )
    )
    assert load_experiment(f).actors[0].ops == ["tlbimvais"]


def test_an_unknown_platform_is_the_platform_field(tmp_path: Path) -> None:
    f = tmp_path / "bad.toml"
    f.write_text(BASE.replace(f'platform = "{PLAT}"', 'platform = "no-such-box"'))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value).startswith(f"{f}:3: platform: unknown platform 'no-such-box'")


def test_an_unreadable_file(tmp_path: Path) -> None:
    f = tmp_path / "none.toml"
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}: cannot read experiment file: No such file or directory"


def test_a_relative_platform_path_is_relative_to_the_experiment_file(tmp_path: Path) -> None:
    """``platform = "profiles/round.toml"`` in ``DIR/exp.toml`` reads ``DIR/profiles/round.toml``
    whatever the working directory; a run's ``platform_set`` overrides only its figures."""
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "round.toml").write_text(Path(PLAT).read_text())
    f = tmp_path / "exp.toml"
    f.write_text(
        BASE.replace(f'platform = "{PLAT}"', 'platform = "profiles/round.toml"').replace(
            'name = "base"', 'name = "base"\nplatform_set = { cores = 2, dvm_scope = "filtered" }'
        )
    )
    exp = load_experiment(f)
    base = platform_for(exp, exp.run("base"))
    more = platform_for(exp, exp.run("more"))
    assert (base.cores, base.dvm_scope, base.dvm_op_cycles) == (2, "filtered", 500.0)
    assert (more.cores, more.dvm_scope) == (4, "system")


def test_parse_op_reads_a_count_and_a_lower_case_name() -> None:
    assert parse_op("3*VAE1IS") == (3, "vae1is")
    assert parse_op(" 12 * dsb ") == (12, "dsb")
    assert parse_op("vmalle1is") == (1, "vmalle1is")
    with pytest.raises(ValueError, match=r"^'x\*vae1is': expected 'name' or 'N\*name'$"):
        parse_op("x*vae1is")


def test_resolve_op_dsb_guest_instruction_and_hypervisor_flush() -> None:
    assert resolve_op(Arch.AARCH64, "dsb") is None
    vae1is = resolve_op(Arch.AARCH64, "vae1is")
    assert vae1is is not None and vae1is.name == "vae1is"
    assert resolve_op(Arch.AARCH64, "alle1is") is HYP_OPS["alle1is"]
    a32 = resolve_op(Arch.AARCH32, "tlbimvais")
    assert a32 is not None and a32.name == "tlbimvais"
    with pytest.raises(ValueError) as exc:
        resolve_op(Arch.AARCH32, "vae1is")
    assert str(exc.value) == (
        "unknown instruction 'vae1is' (an aarch32 instruction, a hypervisor flush, or dsb)"
    )


def test_experiment_from_text_without_a_file() -> None:
    """Text validated on its own: the errors name the ``where`` given."""
    with pytest.raises(ExperimentError) as exc:
        experiment_from_text(BASE.replace('role = "calibrate"', 'role = "x"'), "<text>")
    assert str(exc.value) == "<text>:4: role: expected one of 'calibrate' or 'validate'"


def test_a_dotted_guest_key_is_found_in_its_own_actor(tmp_path: Path) -> None:
    """``guest.kind = ...`` written as dotted keys in the second actor (line 17): the error is on
    that line, not on the first actor's ``guest = { ... }`` (line 11)."""
    f = tmp_path / "bad.toml"
    f.write_text(
        BASE.replace(
            "work_ns = 0\n", 'work_ns = 0\nguest.kind = "no-such-kind"\nguest.policy = "fb"\n'
        )
    )
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value).startswith(f"{f}:17: actors[1].guest: kind: ")


def test_indented_tables_and_inline_actors(tmp_path: Path) -> None:
    """Indented table headers still end the top level: the missing top-level ``name`` is not
    looked for in the actors (which have one). Actors written inline have no header to
    count: no line. A file without any table: no line either."""
    f = tmp_path / "bad.toml"
    f.write_text(BASE.replace('name = "tiny"\n', "").replace("[[", "  [["))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}: name: required field is missing"
    f.write_text(BASE.replace("count = 2\n", "").replace("[[", "  [["))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}: actors[0].count: required field is missing"
    f.write_text(BASE.replace("[[runs]]\n", "[[runs]]\n[[runs]]\n", 1))
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}: runs[0].name: required field is missing"
    f.write_text(
        BASE.split("[[actors]]")[0]
        + 'actors = [{ name = "a", count = 1, cpus = "here" }]\n[[runs]]\nname = "r"\n'
    )
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == (
        f"{f}: actors[0].cpus: expected 'spread', 'packed', 'same-socket' or 'socket:N'"
    )
    f.write_text('name = "tiny"\n')
    with pytest.raises(ExperimentError) as exc:
        load_experiment(f)
    assert str(exc.value) == f"{f}: source: required field is missing"
