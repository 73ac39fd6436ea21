"""faas/environment.py: requirements files read and normalised, and the keys that decide which
functions share a build."""

from __future__ import annotations

from pathlib import Path

import pytest

from faas.environment import Environment, IndexSettings, read_requirements
from faas.exceptions import PackageError, RequirementsError


def write(tmp_path: Path, text: str, name: str = "requirements.txt") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_comments_blank_lines_includes_and_spellings_are_normalised(tmp_path: Path) -> None:
    write(tmp_path, "Six\n", "more.txt")
    deps = read_requirements(write(tmp_path, "# top\n\nalpha == 1.0   # pinned\nFoo_Bar[Socks] >= 2\n-r more.txt\nsix\n"),
                             IndexSettings())
    assert deps.lines == ("alpha==1.0", "foo-bar[socks]>=2", "six")
    assert deps.text == "alpha==1.0\nfoo-bar[socks]>=2\nsix\n"


def test_equal_sets_share_a_key_and_anything_that_changes_the_build_changes_it(tmp_path: Path) -> None:
    a = read_requirements(write(tmp_path, "alpha==1.0\nbeta\n", "a.txt"), IndexSettings())
    b = read_requirements(write(tmp_path, "Alpha == 1.0\n# same set\nbeta\n", "b.txt"), IndexSettings())
    assert a.key == b.key
    assert read_requirements(write(tmp_path, "alpha==2.0\nbeta\n", "c.txt"), IndexSettings()).key != a.key
    offline = IndexSettings(find_links=("/wheels",), offline=True)
    assert read_requirements(tmp_path / "a.txt", offline).key != a.key


@pytest.mark.parametrize(("text", "message"), [
    ("alpha\n--index-url http://x\n", "line 2: '--index-url http://x': options are not read here"),
    ("alpha\n!!!\n", "line 2: '!!!' is not a requirement"),
    ("-r missing.txt\n", "missing.txt: no such requirements file"),
])
def test_a_file_that_does_not_parse_names_the_file_and_the_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(RequirementsError) as err:
        read_requirements(write(tmp_path, text), IndexSettings())
    assert message in str(err.value)
    assert isinstance(err.value, PackageError)


def test_includes_that_loop_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "-r requirements.txt\n")
    with pytest.raises(RequirementsError, match="nested more than"):
        read_requirements(tmp_path / "requirements.txt", IndexSettings())


def test_index_settings_become_uv_flags() -> None:
    index = IndexSettings(index_url="https://i/simple", extra_index_url=("https://e/simple",), find_links=("/w",), offline=True)
    assert index.uv_args() == ["--index-url", "https://i/simple", "--extra-index-url", "https://e/simple",
                               "--find-links", "/w", "--offline"]


def test_environments_differ_by_layers_and_list_paths_in_import_order(tmp_path: Path) -> None:
    deps = read_requirements(write(tmp_path, "alpha\n"), IndexSettings())
    first, second = tmp_path / "l1", tmp_path / "l2"
    env = Environment.of(deps, tmp_path / "envs" / deps.key, (second, first))
    assert env.paths == (str(tmp_path / "envs" / deps.key), str(second), str(first))
    assert Environment.of(deps, tmp_path / "envs" / deps.key, (first, second)).key != env.key
    assert Environment.of(None, None, ()).paths == ()
