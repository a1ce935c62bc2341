"""What a point carries to a worker (study/carried.py): the user's files by content, the
package's by their place in the package; a worker where the name finds nothing reads its own
copy; a worker of another model version computes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from vtlbsim import datafiles
from vtlbsim.cost.platform import load_platform
from vtlbsim.guest.rates import load_rates
from vtlbsim.study.carried import kind_here, platform_here
from vtlbsim.study.spec import load_spec
from vtlbsim.study.sweep import Point, evaluate_chunk, expand, run_key

PLATFORM = datafiles.package_dir(datafiles.PROFILES) / "cortex-a57-juno.toml"


def _spec(where: Path, platform: str) -> Path:
    """A one-point spec in ``where``: ``platform``, a user kind file and a shipped kind."""
    (where / "kinds").mkdir(parents=True)
    kind = (datafiles.package_dir(datafiles.GUESTS) / "linux-arm32-up.toml").read_text()
    (where / "kinds" / "mine.toml").write_text(kind.replace('"linux-arm32-up"', '"mine"', 1))
    spec = where / "s.toml"
    spec.write_text(
        f'name = "c"\ntitle = "t"\n[axes]\nplatforms = ["{platform}"]\npcpus = [2]\n'
        'policies = ["fb"]\n[[mixes]]\nname = "m"\ndomains = [\n'
        '  { kind = "kinds/mine.toml", count = 1, vcpus = 1 },\n'
        '  { kind = "linux-arm64-smp", count = 1, vcpus = 2 },\n]\n'
    )
    return spec


def _one(spec: Path) -> Point:
    (point,) = expand(load_spec(spec))
    return point


def test_points_carry_the_users_files_and_name_the_packages(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    mine = PLATFORM.read_text().replace('"cortex-a57-juno"', '"my-juno"', 1)
    (profiles / "my-juno.toml").write_text(mine)
    monkeypatch.setenv(datafiles.ENV_VAR, str(profiles))  # the platform: a name in a user dir
    point = _one(_spec(tmp_path / "spec", "my-juno"))
    assert point.platform == "my-juno" and point.platform_file is not None
    assert (point.platform_file.package, point.platform_file.name) == ("", "my-juno.toml")
    assert point.platform_file.data == mine.encode()
    user_kind, shipped_kind = point.kind_files
    assert user_kind.data == (tmp_path / "spec" / "kinds" / "mine.toml").read_bytes()
    assert (shipped_kind.package, shipped_kind.data) == (
        "profiles/guests/linux-arm64-smp.toml",
        b"",
    )
    # the run key sees the user's files through their digests, a shipped kind as before
    assert point.kind_digests == (user_kind.digest, "")
    assert point.platform_digest == point.platform_file.digest
    assert not {"platform_file", "kind_files"} & set(point.normalised())
    # so a changed user file is a new point, an unchanged one the same
    again = _one(tmp_path / "spec" / "s.toml")
    assert run_key(again, "v") == run_key(point, "v")
    (profiles / "my-juno.toml").write_text(mine.replace("Juno", "Juno!", 1))
    assert run_key(_one(tmp_path / "spec" / "s.toml"), "v") != run_key(point, "v")


def test_a_worker_without_the_files_reads_its_copy(tmp_path: Path) -> None:
    here = tmp_path / "spec"
    here.mkdir()
    (here / "p.toml").write_text(PLATFORM.read_text().replace('"cortex-a57-juno"', '"p"', 1))
    point = _one(_spec(here, "p.toml"))
    assert point.platform_file is not None
    # where the spec is, the names as written find the same files: they are used as written
    assert platform_here("p.toml", point.base_dir, point.platform_file) == "p.toml"
    assert kind_here("kinds/mine.toml", point.base_dir, point.kind_files[0]) == "kinds/mine.toml"
    # elsewhere (here: the spec's directory gone), a private copy with the same name and bytes
    here.rename(tmp_path / "gone")
    platform_here.cache_clear()
    kind_here.cache_clear()
    plat = platform_here("p.toml", point.base_dir, point.platform_file)
    kind = kind_here("kinds/mine.toml", point.base_dir, point.kind_files[0])
    assert Path(plat).name == "p.toml" and Path(plat).read_bytes() == point.platform_file.data
    assert Path(kind).name == "mine.toml" and Path(kind).read_bytes() == point.kind_files[0].data
    assert load_platform(plat).name == "p" and load_rates(kind).kind == "mine"
    # a shipped kind is read from this process's own package, by its name
    assert kind_here("linux-arm64-smp", point.base_dir, point.kind_files[1]) == "linux-arm64-smp"


def test_a_worker_of_another_model_version_computes_nothing(tmp_path: Path) -> None:
    point = _one(_spec(tmp_path, "cortex-a57-juno"))
    got = evaluate_chunk([(point, "k")], "0.0.1+000000000000", "vtlbsim.cost:evaluate")
    assert got.rows == []
    assert got.error is not None and "install the same vtlbsim on every machine" in got.error
