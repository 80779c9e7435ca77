"""GET /structr/rest/File with paging and the custom view; §4 path and checksum for imported files."""

from __future__ import annotations

import xxhash

from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator

VIEW = "application/json; properties=id,path,size,checksum,isExternal,storageConfiguration"


def _signed(value: int) -> int:
    return value - 2**64 if value >= 2**63 else value


def test_paging_and_custom_view(meetdown_emulator: Emulator) -> None:
    first = meetdown_emulator.rest("GET", "/structr/rest/File", params={"_page": 1, "_pageSize": 3},
                                   headers={"Accept": VIEW}).json()  # fmt: skip
    assert first["result_count"] == 8 and first["page_count"] == 3
    assert len(first["result"]) == 3
    assert all(set(item) == {"id", "path", "size", "checksum", "isExternal", "storageConfiguration"}
               for item in first["result"])  # fmt: skip
    last = meetdown_emulator.rest("GET", "/structr/rest/File", params={"_page": 3, "_pageSize": 3},
                                  headers={"Accept": VIEW}).json()  # fmt: skip
    assert len(last["result"]) == 2
    default = meetdown_emulator.rest("GET", "/structr/rest/File").json()["result"]
    assert {"id", "type", "name", "path", "checksum", "isExternal"} <= set(default[0])
    folders = meetdown_emulator.rest("GET", "/structr/rest/Folder").json()["result"]
    assert sorted(folder["path"] for folder in folders) == ["/css", "/img", "/js"]


def test_imported_files_follow_structr_disk_layout_and_checksum(meetdown_emulator: Emulator) -> None:
    files = meetdown_emulator.rest("GET", "/structr/rest/File", headers={"Accept": VIEW}).json()["result"]
    assert len(files) == 8
    for item in files:
        content = (FIXTURES / "meetdown" / "files" / item["path"].lstrip("/")).read_bytes()
        uuid = item["id"]
        disk = meetdown_emulator.data_dir / "files" / uuid[0] / uuid[1] / uuid[2] / uuid[3] / uuid
        assert disk.read_bytes() == content
        assert item["size"] == len(content)
        assert item["checksum"] == _signed(xxhash.xxh64_intdigest(content))
        assert item["isExternal"] is False and item["storageConfiguration"] is None
    logo = next(item for item in files if item["path"] == "/img/meetdown.png")
    assert logo["id"] == "f8748e72de5e403983cef57aa4a99f09"  # uuid from files.json
