from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from structr_appsync.errors import ExportInvalid
from structr_appsync.exporttree import (
    PLACEHOLDER_NAME,
    add_placeholders,
    extract_export_zip,
    restore_dropped_folders,
    strip_placeholders,
    validate_export_tree,
)


def make_zip(path: Path, entries: dict[str, bytes | None], *, symlink: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in entries.items():
            if data is None:
                archive.writestr(name if name.endswith("/") else name + "/", b"")
            else:
                archive.writestr(name, data)
        if symlink:
            info = zipfile.ZipInfo(symlink)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


GOOD = {
    "webapp/": None,
    "webapp/deployment.conf": b"structr-version = 6.1.0\n",
    "webapp/pages/": None,
    "webapp/pages/home.html": b"<html></html>",
}


def test_good_zip_is_extracted(tmp_path: Path) -> None:
    folder = extract_export_zip(make_zip(tmp_path / "a.zip", GOOD), tmp_path / "out")
    assert folder.name == "webapp"
    assert (folder / "pages" / "home.html").read_bytes() == b"<html></html>"


@pytest.mark.parametrize(
    ("entries", "symlink", "message"),
    [
        ({}, None, "empty"),
        ({"a/": None, "a/deployment.conf": b"x", "b/": None, "b/x": b"y"}, None, "exactly one top folder"),
        ({"webapp/deployment.conf": b"x", "stray.txt": b"y"}, None, "top level"),
        ({"webapp/deployment.conf": b"x", "webapp/../../evil": b"y"}, None, "escapes"),
        ({"/webapp/deployment.conf": b"x"}, None, "absolute"),
        ({"webapp/deployment.conf": b"x"}, "webapp/link", "symbolic link"),
        ({"webapp/": None, "webapp/readme.txt": b"x"}, None, "none of Structr's deployment files"),
        ({"webapp/": None}, None, "empty"),
    ],
)
def test_evil_or_broken_zips_are_refused(
    tmp_path: Path, entries: dict[str, bytes | None], symlink: str | None, message: str
) -> None:
    with pytest.raises(ExportInvalid, match=message):
        extract_export_zip(make_zip(tmp_path / "a.zip", entries, symlink=symlink), tmp_path / "out")
    assert not (tmp_path / "evil").exists()


def test_truncated_and_garbage_zips_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(20):
            archive.writestr(f"webapp/pages/p{index}.html", b"x" * 5000)
    data = buffer.getvalue()
    (tmp_path / "half.zip").write_bytes(data[: len(data) // 2])
    with pytest.raises(ExportInvalid, match="ZIP"):
        extract_export_zip(tmp_path / "half.zip", tmp_path / "out1")
    (tmp_path / "junk.zip").write_bytes(b"<html>error</html>")
    with pytest.raises(ExportInvalid, match="not a readable ZIP"):
        extract_export_zip(tmp_path / "junk.zip", tmp_path / "out2")
    (tmp_path / "empty.zip").write_bytes(b"")
    with pytest.raises(ExportInvalid):
        extract_export_zip(tmp_path / "empty.zip", tmp_path / "out3")


def test_corrupt_member_data_is_refused(tmp_path: Path) -> None:
    path = make_zip(tmp_path / "a.zip", {**GOOD, "webapp/pages/big.html": b"A" * 10000})
    raw = bytearray(path.read_bytes())
    index = raw.find(b"A" * 100)
    raw[index : index + 10] = b"B" * 10  # payload no longer matches its CRC
    path.write_bytes(bytes(raw))
    with pytest.raises(ExportInvalid, match="truncated or corrupt"):
        extract_export_zip(path, tmp_path / "out")


def test_validate_refuses_symlinks(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    (tmp_path / "deployment.conf").write_text("x")
    (tmp_path / "pages" / "link.html").symlink_to("/etc/hostname")
    with pytest.raises(ExportInvalid, match="symbolic link"):
        validate_export_tree(tmp_path)


def test_placeholders_only_in_empty_dom_folders(tmp_path: Path) -> None:
    for name in ("pages", "components", "templates", "files"):
        (tmp_path / name).mkdir()
    (tmp_path / "pages" / "home.html").write_text("x")
    written = add_placeholders(tmp_path)
    assert sorted(p.parent.name for p in written) == ["components", "templates"]
    assert not (tmp_path / "pages" / PLACEHOLDER_NAME).exists()
    assert not (tmp_path / "files" / PLACEHOLDER_NAME).exists()
    strip_placeholders(tmp_path)
    assert not (tmp_path / "components" / PLACEHOLDER_NAME).exists()
    assert (tmp_path / "components").is_dir()


def test_restore_dropped_folders(tmp_path: Path) -> None:
    (tmp_path / "pages").mkdir()
    assert restore_dropped_folders(tmp_path) == ["components", "templates"]
    assert all((tmp_path / name).is_dir() for name in ("pages", "components", "templates"))
