"""faas/packages.py and faas/_unzip.py: code packages and layers as folders, from real zips built in
tmp_path. Every bad zip is refused with a message naming whose zip it is, the file and the problem,
and leaves nothing behind in the packages folder."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

import faas._unzip as unzip
from faas.config import Config, load_config
from faas.environment import PYTHON_VERSION
from faas.exceptions import PackageError
from faas.packages import (
    MAX_UNZIPPED_BYTES,
    check_total_size,
    code_paths,
    functions_using,
    layer_paths,
    packages_root,
    unpack_zip,
    watched_paths,
)

WHAT = 'function "f" code'
MB = 1024 * 1024
SITE = f"python/lib/python{PYTHON_VERSION}/site-packages"


def make_zip(
    path: Path,
    files: dict[str, bytes | str],
    *,
    modes: dict[str, int] | None = None,
    symlinks: dict[str, str] | None = None,
    unix: bool = True,
) -> Path:
    """A zip of ``files`` (name -> content), with Unix modes (``modes``, default 0644) and symlink
    entries (name -> target) as zip tools record them: the mode in the high 16 bits of external_attr."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if unix:
                info.create_system = 3
                kind = stat.S_IFDIR if name.endswith("/") else stat.S_IFREG
                info.external_attr = (kind | (modes or {}).get(name, 0o644)) << 16
            else:
                info.create_system = 0
                info.external_attr = 0
            zf.writestr(info, content)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name, (2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def refused(zip_path: Path, packages: Path, what: str = WHAT) -> str:
    """The message ``unpack_zip`` refuses ``zip_path`` with; and nothing is left in ``packages``."""
    with pytest.raises(PackageError) as info:
        unpack_zip(zip_path, packages, what=what)
    assert not packages.exists() or list(packages.iterdir()) == []
    return str(info.value)


# --- a good zip -------------------------------------------------------------------------------


def test_a_zip_unpacks_into_a_folder_named_by_its_hash(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "def handler(e, c): return 1\n", "lib/__init__.py": "X = 1\n"})
    folder = unpack_zip(z, tmp_path / "packages", what=WHAT)
    assert folder == tmp_path / "packages" / hashlib.sha256(z.read_bytes()).hexdigest()
    assert (folder / "app.py").read_text() == "def handler(e, c): return 1\n"
    assert (folder / "lib" / "__init__.py").read_text() == "X = 1\n"
    assert [p.name for p in (tmp_path / "packages").iterdir()] == [folder.name]  # no .partial left


def test_a_zip_is_unpacked_once_then_reused(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "v = 1\n"})
    first = unpack_zip(z, tmp_path / "packages", what=WHAT)
    before = (first / "app.py").stat()
    (first / "marker").write_text("still here")  # a rewrite would replace the folder
    second = unpack_zip(z, tmp_path / "packages", what=WHAT)
    after = (second / "app.py").stat()
    assert second == first
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (second / "marker").read_text() == "still here"


def test_a_replaced_zip_is_a_new_folder(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "v = 1\n"})
    old = unpack_zip(z, tmp_path / "packages", what=WHAT)
    make_zip(z, {"app.py": "v = 2\n"})
    new = unpack_zip(z, tmp_path / "packages", what=WHAT)
    assert new != old and (new / "app.py").read_text() == "v = 2\n" and (old / "app.py").read_text() == "v = 1\n"


def test_modes_keep_exec_bits_and_drop_the_dangerous_ones(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "f.zip",
        {"run.sh": "#!/bin/sh\n", "suid": "x", "open.py": "x", "plain.py": "x", "locked.py": "x", "bin/": ""},
        modes={"run.sh": 0o755, "suid": 0o6755 | stat.S_ISVTX, "open.py": 0o666, "plain.py": 0o644,
               "locked.py": 0o400, "bin/": 0o777},
    )
    folder = unpack_zip(z, tmp_path / "packages", what=WHAT)

    def mode(name: str) -> int:
        return stat.S_IMODE((folder / name).stat().st_mode)

    assert mode("run.sh") == 0o755
    assert mode("suid") == 0o755  # setuid, setgid and sticky gone, exec bits kept
    assert mode("open.py") == 0o664  # no write for others
    assert mode("plain.py") == 0o644
    assert mode("locked.py") == 0o644  # readable by all: a worker may run as its own user
    assert mode("bin") == 0o755 and stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_windows_zip_gets_plain_modes_and_backslash_folders(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"pkg\\mod.py": "X = 1\n", "app.py": "x"}, unix=False)
    folder = unpack_zip(z, tmp_path / "packages", what=WHAT)
    assert (folder / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert stat.S_IMODE((folder / "app.py").stat().st_mode) == 0o644


def test_two_unpacks_of_the_same_zip_racing_both_succeed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second rename finds the folder there (the other unpack won): its own copy is removed."""
    z = make_zip(tmp_path / "f.zip", {"app.py": "v = 1\n"})
    packages = tmp_path / "packages"
    real_rename = os.rename

    def other_unpack_wins(src: str | Path, dst: str | Path) -> None:
        monkeypatch.setattr(unzip.os, "rename", real_rename)
        (Path(dst) / "from-the-winner").parent.mkdir()
        (Path(dst) / "from-the-winner").write_text("")
        real_rename(src, dst)

    monkeypatch.setattr(unzip.os, "rename", other_unpack_wins)
    folder = unpack_zip(z, packages, what=WHAT)
    assert (folder / "from-the-winner").exists() and not (folder / "app.py").exists()
    assert [p.name for p in packages.iterdir()] == [folder.name]


def test_concurrent_unpacks_agree(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {f"m{i}.py": f"X = {i}\n" * 1000 for i in range(50)})
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(unpack_zip(z, tmp_path / "p", what=WHAT))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(results)) == 1 and len(results) == 4
    assert [p.name for p in (tmp_path / "p").iterdir()] == [results[0].name]


def test_a_crashed_unpack_leaves_a_partial_folder_swept_an_hour_later(tmp_path: Path) -> None:
    packages = tmp_path / "packages"
    stale, fresh = packages / ".abc.x1.partial", packages / ".abc.x2.partial"
    stale.mkdir(parents=True)
    fresh.mkdir()
    os.utime(stale, (time.time() - 3700, time.time() - 3700))
    unpack_zip(make_zip(tmp_path / "f.zip", {"a.py": ""}), packages, what=WHAT)
    assert not stale.exists() and fresh.exists()


# --- bad zips -----------------------------------------------------------------------------------


def test_not_a_zip(tmp_path: Path) -> None:
    bad = tmp_path / "f.zip"
    bad.write_bytes(b"this is not a zip file at all")
    assert refused(bad, tmp_path / "p") == f"{WHAT} ({bad}): not a readable zip file: File is not a zip file"


def test_a_truncated_zip(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "x" * 1000})
    z.write_bytes(z.read_bytes()[:-30])
    assert refused(z, tmp_path / "p").startswith(f"{WHAT} ({z}): not a readable zip file: ")


def test_a_bad_crc(tmp_path: Path) -> None:
    z = tmp_path / "f.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("app.py", b"print('hello world')\n")
    z.write_bytes(z.read_bytes().replace(b"hello world", b"hello w0rld"))
    assert refused(z, tmp_path / "p") == f"{WHAT} ({z}): entry \"app.py\" is corrupt: Bad CRC-32 for file 'app.py'"


def test_a_missing_zip_and_a_folder(tmp_path: Path) -> None:
    assert refused(tmp_path / "nope.zip", tmp_path / "p") == f"{WHAT} ({tmp_path / 'nope.zip'}): no such file"
    (tmp_path / "d.zip").mkdir()
    assert refused(tmp_path / "d.zip", tmp_path / "p") == f"{WHAT} ({tmp_path / 'd.zip'}): a folder, not a .zip file"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("../evil.py", 'has a ".." component, which could lead out of the package folder'),
        ("lib/../../evil.py", 'has a ".." component, which could lead out of the package folder'),
        ("lib/../app.py", 'has a ".." component, which could lead out of the package folder'),
        ("..\\..\\evil.py", 'has a ".." component, which could lead out of the package folder'),
        ("/etc/cron.d/evil", "is an absolute path; entries must be relative to the zip root"),
        ("\\evil.py", "is an absolute path; entries must be relative to the zip root"),
        ("C:/evil.py", "names a drive; entries must be relative to the zip root"),
        ("c:evil.py", "names a drive; entries must be relative to the zip root"),
    ],
)
def test_a_path_escaping_the_folder(tmp_path: Path, name: str, problem: str) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "x", name: "evil"})
    assert refused(z, tmp_path / "p", 'layer "common"') == f'layer "common" ({z}): entry "{name}" {problem}'
    assert not (tmp_path / "evil.py").exists()


@pytest.mark.parametrize(
    ("name", "target", "place"),
    [
        ("lib/passwd", "../../etc/passwd", "outside"),
        ("lib/abs", "/etc/passwd", "outside"),
        ("up", "..", "outside"),
        ("lib/sneaky", "x/../../..", "outside"),
        ("lib/here", "../app.py", "inside"),
        ("lib/near", "mod.py", "inside"),
    ],
)
def test_a_symlink_is_refused_and_says_where_it_points(tmp_path: Path, name: str, target: str, place: str) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "x"}, symlinks={name: target})
    assert refused(z, tmp_path / "p") == (
        f'{WHAT} ({z}): entry "{name}" is a symlink to "{target}" ({place} the package folder); '
        "a package may hold only files and folders"
    )


def test_an_encrypted_entry(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "garbled"})
    data = bytearray(z.read_bytes())  # zipfile writes no encrypted zips: set the flag bit by hand
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 6] |= 0x1
    data[central + 8] |= 0x1
    z.write_bytes(bytes(data))
    assert refused(z, tmp_path / "p") == f'{WHAT} ({z}): entry "app.py" is encrypted'


def test_a_file_where_a_folder_must_be(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "f.zip", {"lib": "a file", "lib/mod.py": "x"})
    assert refused(z, tmp_path / "p") == f'{WHAT} ({z}): entry "lib/mod.py" cannot be written: File exists'


def test_over_50_mb_zipped(tmp_path: Path) -> None:
    z = tmp_path / "big.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_STORED) as zf, zf.open("blob.bin", "w") as out:
        chunk = os.urandom(MB)
        for _ in range(51):
            out.write(chunk)
    size = z.stat().st_size
    assert size > 51 * MB
    assert refused(z, tmp_path / "p") == (
        f"{WHAT} ({z}): {size / MB:.1f} MB zipped; the limit is 50.0 MB per zip (Lambda's, for a direct upload)"
    )


def test_the_zipped_limit_is_inclusive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    z = make_zip(tmp_path / "f.zip", {"app.py": "x"})
    monkeypatch.setattr(unzip, "MAX_ZIPPED_BYTES", z.stat().st_size)
    assert unpack_zip(z, tmp_path / "p", what=WHAT).is_dir()
    monkeypatch.setattr(unzip, "MAX_ZIPPED_BYTES", z.stat().st_size - 1)
    make_zip(z, {"app.py": "y"})
    assert "zipped; the limit is" in refused(z, tmp_path / "q")


def deflated_zeros(path: Path, megabytes: int, name: str = "zeros.bin") -> Path:
    """A highly compressible zip: ``megabytes`` MB of zeros deflate to about 1/250th of that."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf, zf.open(name, "w") as out:
        chunk = bytes(MB)
        for _ in range(megabytes):
            out.write(chunk)
    return path


def test_a_zip_bomb_is_refused_by_its_declared_sizes_before_writing(tmp_path: Path) -> None:
    z = deflated_zeros(tmp_path / "bomb.zip", 251)
    assert z.stat().st_size < 2 * MB
    assert refused(z, tmp_path / "p") == (
        f"{WHAT} ({z}): its entries declare 251.0 MB unzipped; the limit is 250.0 MB "
        "(Lambda's, for code and layers together)"
    )


def _lie_about_size(z: Path, size: int, crc: int | None = None) -> None:
    """Rewrite the uncompressed size (and CRC) of the only entry in its local and central headers."""
    data = bytearray(z.read_bytes())
    local, central = data.index(b"PK\x03\x04"), data.index(b"PK\x01\x02")
    data[local + 22 : local + 26] = data[central + 24 : central + 28] = size.to_bytes(4, "little")
    if crc is not None:
        data[local + 14 : local + 18] = data[central + 16 : central + 20] = crc.to_bytes(4, "little")
    z.write_bytes(bytes(data))


def test_a_zip_bomb_lying_about_its_size_never_writes_more_than_it_declares(tmp_path: Path) -> None:
    z = deflated_zeros(tmp_path / "bomb.zip", 260)
    _lie_about_size(z, 1000)
    message = refused(z, tmp_path / "p")  # reading stops at 1000 bytes, whose CRC is not the one stored
    assert message == f"{WHAT} ({z}): entry \"zeros.bin\" is corrupt: Bad CRC-32 for file 'zeros.bin'"
    _lie_about_size(z, 1000, crc=zlib.crc32(bytes(1000)))  # a lie that also fixes the CRC: 1000 bytes, no more
    folder = unpack_zip(z, tmp_path / "p", what=WHAT)
    assert (folder / "zeros.bin").stat().st_size == 1000


def test_bytes_written_are_counted_even_if_the_declared_sizes_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second guard on its own: with the declared-size check fooled, writing stops at the limit."""
    monkeypatch.setattr(unzip, "_declared_size", lambda entries: 0)
    monkeypatch.setattr(unzip, "MAX_UNZIPPED_BYTES", 2 * MB)
    z = make_zip(tmp_path / "f.zip", {"a.bin": bytes(MB), "b.bin": bytes(MB), "c.bin": bytes(MB)})
    assert refused(z, tmp_path / "p") == (
        f"{WHAT} ({z}): unpacking stopped at 3.0 MB unzipped; the limit is 2.0 MB (Lambda's, for code and layers together)"
    )


def test_too_many_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert unzip.MAX_ENTRIES == 50_000
    monkeypatch.setattr(unzip, "MAX_ENTRIES", 10)
    ok = make_zip(tmp_path / "ok.zip", {f"m{i}.py": "" for i in range(10)})
    assert unpack_zip(ok, tmp_path / "p", what=WHAT).is_dir()
    z = make_zip(tmp_path / "f.zip", {f"m{i}.py": "" for i in range(11)})
    assert refused(z, tmp_path / "q") == f"{WHAT} ({z}): 11 entries; at most 10 are unpacked"


# --- code paths, layer paths, sizes -------------------------------------------------------------


def write_config(tmp_path: Path, text: str) -> Config:
    (tmp_path / "functions").mkdir(exist_ok=True)
    path = tmp_path / "config.toml"
    path.write_text(text)
    return load_config(path)


def test_code_paths_of_each_kind(tmp_path: Path) -> None:
    fdir = tmp_path / "functions"
    (fdir / "pkg").mkdir(parents=True)
    (fdir / "pkg" / "app.py").write_text("")
    (fdir / "single.py").write_text("")
    (tmp_path / "src").mkdir()
    z = make_zip(tmp_path / "dist" / "zipped.zip", {"app.py": "def handler(e, c): return 1\n"})
    config = write_config(tmp_path, """
[functions.single]
handler = "single.handler"
[functions.pkg]
handler = "pkg.app.handler"
[functions.folder]
handler = "app.handler"
code = "src"
[functions.zipped]
handler = "app.handler"
code = "dist/zipped.zip"
""")
    packages = packages_root(config)
    assert packages == tmp_path / "data" / "packages"
    fns = config.functions
    assert code_paths(config, fns["single"], packages) == (str(fdir),)
    assert code_paths(config, fns["pkg"], packages) == (str(fdir), str(fdir / "pkg"))
    assert code_paths(config, fns["folder"], packages) == (str(tmp_path / "src"),)
    zipped = code_paths(config, fns["zipped"], packages)
    assert zipped == (str(packages / hashlib.sha256(z.read_bytes()).hexdigest()),)
    assert (Path(zipped[0]) / "app.py").is_file()


def test_a_refused_code_zip_names_the_function(tmp_path: Path) -> None:
    (tmp_path / "f.zip").write_bytes(b"nope")
    config = write_config(tmp_path, '[functions.thumbnail]\nhandler = "app.handler"\ncode = "f.zip"\n')
    with pytest.raises(PackageError) as info:
        code_paths(config, config.functions["thumbnail"], tmp_path / "p")
    assert str(info.value) == (
        f'function "thumbnail" code ({tmp_path / "f.zip"}): not a readable zip file: File is not a zip file'
    )


LAYERED = """
[layers.first]
path = "layers/first.zip"
[layers.second]
path = "layers/second"
[functions.f]
handler = "f.handler"
layers = ["first", "second"]
"""


def test_two_layers_with_the_same_module_the_later_wins(tmp_path: Path) -> None:
    make_zip(tmp_path / "layers" / "first.zip", {"python/mylib.py": "WHO = 'first'\n", "python/onlyfirst.py": ""})
    (tmp_path / "layers" / "second" / "python").mkdir(parents=True)
    (tmp_path / "layers" / "second" / "python" / "mylib.py").write_text("WHO = 'second'\n")
    config = write_config(tmp_path, LAYERED)
    paths = layer_paths(config, config.functions["f"], tmp_path / "p")
    first = unpack_zip(tmp_path / "layers" / "first.zip", tmp_path / "p", what="")
    assert paths == (tmp_path / "layers" / "second" / "python", first / "python")
    code = "import sys; sys.path[:0] = sys.argv[1:]; import mylib, onlyfirst; print(mylib.WHO)"
    out = subprocess.run([sys.executable, "-c", code, *map(str, paths)], capture_output=True, text=True, check=True)
    assert out.stdout == "second\n"


def test_a_layer_with_site_packages_and_python(tmp_path: Path) -> None:
    make_zip(tmp_path / "layers" / "first.zip", {f"{SITE}/dep.py": "", "python/mine.py": ""})
    (tmp_path / "layers" / "second" / SITE).mkdir(parents=True)
    config = write_config(tmp_path, LAYERED)
    paths = layer_paths(config, config.functions["f"], tmp_path / "p")
    first = unpack_zip(tmp_path / "layers" / "first.zip", tmp_path / "p", what="")
    second = tmp_path / "layers" / "second"
    assert paths == (second / SITE, second / "python", first / SITE, first / "python")


def test_a_layer_without_python(tmp_path: Path) -> None:
    make_zip(tmp_path / "layers" / "first.zip", {"mylib.py": ""})
    (tmp_path / "layers" / "second" / "python").mkdir(parents=True)
    config = write_config(tmp_path, LAYERED)
    with pytest.raises(PackageError) as info:
        layer_paths(config, config.functions["f"], tmp_path / "p")
    assert str(info.value) == (
        f'layer "first" ({tmp_path / "layers" / "first.zip"}): names no python/ folder; a layer holds '
        f"python/ or python/lib/python{PYTHON_VERSION}/site-packages/ (Lambda's layout)"
    )


def test_a_layer_built_for_another_python(tmp_path: Path) -> None:
    make_zip(tmp_path / "layers" / "first.zip", {"python/lib/python3.99/site-packages/dep.py": ""})
    (tmp_path / "layers" / "second" / "python").mkdir(parents=True)
    config = write_config(tmp_path, LAYERED)
    with pytest.raises(PackageError) as info:
        layer_paths(config, config.functions["f"], tmp_path / "p")
    assert str(info.value) == (
        f'layer "first" ({tmp_path / "layers" / "first.zip"}): has python/lib/python3.99/site-packages but '
        f"this runtime is Python {PYTHON_VERSION} (python/lib/python{PYTHON_VERSION}/site-packages/ is what it reads)"
    )


def test_a_refused_layer_zip_names_the_layer(tmp_path: Path) -> None:
    make_zip(tmp_path / "layers" / "first.zip", {"python/ok.py": ""}, symlinks={"python/x": "/etc/passwd"})
    (tmp_path / "layers" / "second" / "python").mkdir(parents=True)
    config = write_config(tmp_path, LAYERED)
    with pytest.raises(PackageError, match=r'^layer "first" \(.*first\.zip\): entry "python/x" is a symlink'):
        layer_paths(config, config.functions["f"], tmp_path / "p")


def test_a_layer_not_built_yet(tmp_path: Path) -> None:
    (tmp_path / "req.txt").write_text("humanize\n")
    config = write_config(tmp_path, """
[layers.heavy]
path = "layers/heavy.zip"
requirements = "req.txt"
[functions.f]
handler = "f.handler"
layers = ["heavy"]
""")
    with pytest.raises(PackageError) as info:
        layer_paths(config, config.functions["f"], tmp_path / "p")
    assert str(info.value) == (
        f'layer "heavy" ({tmp_path / "layers" / "heavy.zip"}): not built yet; '
        f"`faas layers build heavy` builds it from {tmp_path / 'req.txt'}"
    )


def sparse(path: Path, size: int) -> Path:
    """A file of ``size`` bytes that takes no room on disk."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(size)
    return path


def test_total_size_counts_code_and_layers_once(tmp_path: Path) -> None:
    fdir, own, layer = tmp_path / "functions", tmp_path / "functions" / "pkg", tmp_path / "layer" / "python"
    sparse(fdir / "shared.bin", 300 * MB)  # the shared functions folder is nobody's package
    sparse(own / "app.bin", 100 * MB)
    sparse(own / "__pycache__" / "app.cpython.pyc", 300 * MB)  # bytecode the platform wrote: not counted
    sparse(layer / "lib.bin", 50 * MB)
    sparse(tmp_path / "outside.bin", 300 * MB)
    (own / "link").symlink_to(tmp_path / "outside.bin")  # not followed
    site = layer / "lib" / "python3.11" / "site-packages"
    sparse(site / "dep.bin", 10 * MB)
    total = check_total_size("f", (str(fdir), str(own)), (site, layer), functions_dir=fdir)
    assert total == 160 * MB + len(str(tmp_path / "outside.bin"))


def test_over_250_mb_for_code_and_layers(tmp_path: Path) -> None:
    code, layer = sparse(tmp_path / "code" / "app.bin", 200 * MB).parent, tmp_path / "layer" / "python"
    sparse(layer / "big.bin", 60 * MB)
    assert check_total_size("f", (str(code),), ()) == 200 * MB
    with pytest.raises(PackageError) as info:
        check_total_size("thumbnail", (str(code),), (layer,))
    assert str(info.value) == (
        'function "thumbnail": code and layers come to over 260.0 MB unzipped; the limit is 250.0 MB '
        f"(Lambda's, for code plus all its layers): {code} 200.0 MB, {layer} 60.0 MB"
    )
    assert check_total_size("f", (str(sparse(code / "app.bin", MAX_UNZIPPED_BYTES).parent),), ()) == MAX_UNZIPPED_BYTES


# --- what hot reload watches ----------------------------------------------------------------------

WATCHED = """
[layers.common]
path = "layers/common"
[layers.pillow]
path = "layers/pillow.zip"
requirements = "layers/pillow.txt"
[layers.unused]
path = "layers/common"
[functions.zipped]
handler = "app.handler"
code = "dist/zipped.zip"
layers = ["common"]
[functions.foldered]
handler = "app.handler"
code = "src"
requirements = "requirements.txt"
layers = ["pillow", "common"]
[functions.plain]
handler = "plain.handler"
requirements = "functions/plain-requirements.txt"
[functions.inside]
handler = "app.handler"
code = "functions/inside"
"""


def watched_config(tmp_path: Path) -> Config:
    make_zip(tmp_path / "dist" / "zipped.zip", {"app.py": ""})
    for path in ("layers/common/python", "src", "functions/inside"):
        (tmp_path / path).mkdir(parents=True)
    for path in ("layers/pillow.txt", "requirements.txt", "functions/plain-requirements.txt"):
        (tmp_path / path).write_text("")
    return write_config(tmp_path, WATCHED)


def test_watched_paths_are_the_packages_outside_functions(tmp_path: Path) -> None:
    config = watched_config(tmp_path)
    assert watched_paths(config) == {
        tmp_path / "dist" / "zipped.zip",
        tmp_path / "layers" / "common",
        tmp_path / "layers" / "pillow.zip",  # not built yet: watched for when it is
        tmp_path / "layers" / "pillow.txt",
        tmp_path / "src",
        tmp_path / "requirements.txt",
    }


def test_functions_using_a_changed_path(tmp_path: Path) -> None:
    config = watched_config(tmp_path)
    assert functions_using(config, [tmp_path / "dist" / "zipped.zip"]) == {"zipped"}
    assert functions_using(config, [tmp_path / "layers" / "common" / "python" / "x.py"]) == {"zipped", "foldered"}
    assert functions_using(config, [tmp_path / "layers" / "pillow.zip"]) == {"foldered"}
    assert functions_using(config, [tmp_path / "layers" / "pillow.txt"]) == {"foldered"}
    assert functions_using(config, [tmp_path / "src" / "deep" / "mod.py"]) == {"foldered"}
    assert functions_using(config, [tmp_path / "requirements.txt"]) == {"foldered"}
    assert functions_using(config, [tmp_path / "functions" / "inside" / "app.py"]) == {"inside"}
    assert functions_using(config, [tmp_path / "dist" / "other.zip", tmp_path / "srcx" / "a.py"]) == set()
    assert functions_using(config, []) == set()


def test_code_removed_since_the_config_was_read(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    config = write_config(tmp_path, '[functions.f]\nhandler = "app.handler"\ncode = "src"\n')
    (tmp_path / "src").rmdir()
    with pytest.raises(PackageError) as info:
        code_paths(config, config.functions["f"], tmp_path / "p")
    assert str(info.value) == f'function "f" code ({tmp_path / "src"}): no such folder or .zip file'
