"""Access streams: the working-set model, the lackey reader, the .npz format, `trace import`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from vtlbsim.cli.common import app
from vtlbsim.guest.rates import load_rates
from vtlbsim.guest.workload import (
    F_FETCH,
    F_GLOBAL,
    F_STORE,
    LINES_PER_PAGE,
    AccessStream,
    StreamModel,
    TraceError,
    generate,
    load_npz,
    model_for,
    read_lackey,
    save_npz,
)

LACKEY = """==123== Lackey, an example Valgrind tool
==123== Command: true
I  0401b821,4
 L 04222cac,8
 S 1ffefff8b0,8
 M 0421ff98,4
I  0401b825,3

==123== Counted 1 call to main()
"""


def test_model_respects_the_working_set() -> None:
    m = StreamModel(code_pages=20, data_pages=80, global_fraction=0.25)
    s = generate(m, 50_000, seed=3)
    assert len(s) == 50_000
    pages = np.unique(s.lines // LINES_PER_PAGE)
    assert 0 < pages.size <= 100
    fetch = (s.flags & F_FETCH) != 0
    code = np.unique(s.lines[fetch] // LINES_PER_PAGE)
    data = np.unique(s.lines[~fetch] // LINES_PER_PAGE)
    assert code.size <= 20 and data.size <= 80
    assert not np.intersect1d(code, data).size  # code and data pages are apart
    assert 0.4 < s.fetch_share() < 0.6
    glob = np.unique(s.lines[(s.flags & F_GLOBAL) != 0] // LINES_PER_PAGE)
    assert 0 < glob.size <= 5 + 20  # a quarter of each region
    assert not (s.flags[fetch] & F_STORE).any()


def test_model_is_deterministic_and_seeded() -> None:
    m = StreamModel(code_pages=10, data_pages=30)
    a, b, c = generate(m, 5000, 1), generate(m, 5000, 1), generate(m, 5000, 2)
    assert np.array_equal(a.lines, b.lines) and np.array_equal(a.flags, b.flags)
    assert not np.array_equal(a.lines, c.lines)


def test_zipf_makes_a_few_pages_hot() -> None:
    s = generate(StreamModel(code_pages=50, data_pages=500, seq_fraction=0.0), 100_000, 0)
    _, counts = np.unique(s.lines[(s.flags & F_FETCH) == 0] // LINES_PER_PAGE, return_counts=True)
    top = np.sort(counts)[::-1]
    assert top[:10].sum() > 0.2 * counts.sum()  # Zipf(1) over 500 pages: top 10 ~ 43 %


def test_model_for_kind_uses_its_rates() -> None:
    r = load_rates("linux-arm64-smp")
    m = model_for(r)
    assert m.code_pages + m.data_pages == round(r.tlb_working_set_pages)
    assert m.global_fraction == r.shared_fraction


def test_lackey_reader(tmp_path: Path) -> None:
    f = tmp_path / "t.lackey"
    f.write_text(LACKEY)
    s = read_lackey(f)
    assert list(s.lines) == [
        0x0401B821 >> 6,
        0x04222CAC >> 6,
        0x1FFEFFF8B0 >> 6,
        0x0421FF98 >> 6,
        0x0401B825 >> 6,
    ]
    assert list(s.flags) == [F_FETCH, 0, F_STORE, F_STORE, F_FETCH]


@pytest.mark.parametrize(
    "bad",
    ["X  0401b821,4", " L 0401b821", " L zzzz,4", "I  0401b821,0", "I0401b821,4"],
)
def test_lackey_reader_names_file_and_line(tmp_path: Path, bad: str) -> None:
    f = tmp_path / "bad.lackey"
    f.write_text("==1== header\nI  0401b821,4\n" + bad + "\n")
    with pytest.raises(TraceError) as err:
        read_lackey(f)
    msg = str(err.value)
    assert msg.startswith(f"{f}:3: expected") and "\n" not in msg


def test_npz_round_trip_and_errors(tmp_path: Path) -> None:
    s = generate(StreamModel(code_pages=5, data_pages=9), 3000, 4)
    f = tmp_path / "s.npz"
    save_npz(s, f)
    back = load_npz(f)
    assert np.array_equal(back.lines, s.lines) and np.array_equal(back.flags, s.flags)
    bad = tmp_path / "bad.npz"
    np.savez(bad, format=np.array("vtlbsim-trace-1"), line_delta=np.arange(3))
    with pytest.raises(TraceError, match=r"bad.npz: flags: required array is missing"):
        load_npz(bad)
    junk = tmp_path / "junk.npz"
    junk.write_text("not a zip")
    with pytest.raises(TraceError, match="junk.npz"):
        load_npz(junk)


def test_trace_import_cli(tmp_path: Path) -> None:
    src = tmp_path / "t.lackey"
    src.write_text(LACKEY)
    out = tmp_path / "t.npz"
    res = CliRunner().invoke(app, ["trace", "import", str(src), str(out)])
    assert res.exit_code == 0, res.output
    assert len(load_npz(out)) == 5
    src.write_text(LACKEY + "garbage\n")
    res = CliRunner().invoke(app, ["trace", "import", str(src), str(out)])
    assert res.exit_code == 2
    assert res.stderr.strip().count("\n") == 0 and f"{src}:10:" in res.stderr


def test_shipped_traces_load() -> None:
    root = Path(__file__).resolve().parents[2] / "traces"
    found = sorted(root.glob("*.npz"))
    assert len(found) >= 2
    for f in found:
        s: AccessStream = load_npz(f)
        assert len(s) > 100_000 and 0.0 < s.fetch_share() < 1.0


@settings(max_examples=40, deadline=None)
@given(
    records=st.lists(
        st.tuples(st.sampled_from("ILSM"), st.integers(0, (1 << 48) - 1), st.integers(1, 64)),
        min_size=1,
        max_size=40,
    )
)
def test_lackey_round_trip(tmp_path_factory: pytest.TempPathFactory, records: list) -> None:  # type: ignore[type-arg]
    """Any well-formed lackey log reads back as the records it holds, and survives .npz."""
    d = tmp_path_factory.mktemp("lk")
    text = "==7== Lackey\n" + "".join(
        (f"I  {a:08x},{n}\n" if k == "I" else f" {k} {a:08x},{n}\n") for k, a, n in records
    )
    (d / "t.lackey").write_text(text)
    s = read_lackey(d / "t.lackey")
    assert list(s.lines) == [a >> 6 for _, a, _ in records]
    want = [{"I": F_FETCH, "L": 0, "S": F_STORE, "M": F_STORE}[k] for k, _, _ in records]
    assert [int(f) & ~F_GLOBAL for f in s.flags] == want
    save_npz(s, d / "t.npz")
    back = load_npz(d / "t.npz")
    assert np.array_equal(back.lines, s.lines) and np.array_equal(back.flags, s.flags)
