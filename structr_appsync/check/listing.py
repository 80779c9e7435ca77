"""The database side: File nodes read from `GET /structr/rest/File`, page by page, sorted by id."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from structr_appsync.errors import ServerError

PROPERTIES = ("id", "path", "size", "checksum", "isExternal", "isMounted", "storageConfiguration")
DEFAULT_PAGE_SIZE = 1000


class PageSource(Protocol):
    url: str

    def list_page(
        self, type_name: str, *, page: int, page_size: int, properties: tuple[str, ...], sort: str = "id"
    ) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class DbFile:
    """One File node, as far as the check needs it."""

    uuid: str
    path: str
    size: int | None
    checksum: int | None
    external: bool
    mounted: bool
    other_storage: bool

    @property
    def key(self) -> tuple[str, ...]:
        """Where Structr keeps the bytes, as path parts under files/: c0/c1/c2/c3/uuid."""
        return (*self.uuid[:4], self.uuid)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _parse(item: dict[str, Any], url: str) -> DbFile:
    uuid = item.get("id")
    if not isinstance(uuid, str) or len(uuid) < 4 or "/" in uuid or uuid in (".", ".."):
        raise ServerError(f"the File listing holds an entry with an unusable id: {str(uuid)[:60]!r}", url=url)
    return DbFile(
        uuid=uuid,
        path=str(item.get("path") or ""),
        size=_as_int(item.get("size")),
        checksum=_as_int(item.get("checksum")),
        external=bool(item.get("isExternal")),
        mounted=bool(item.get("isMounted")),
        other_storage=item.get("storageConfiguration") not in (None, "", {}),
    )


def iter_files(source: PageSource, *, page_size: int = DEFAULT_PAGE_SIZE) -> Iterator[DbFile]:
    """Yield every File node in ascending id order, holding one page at a time.

    Raises:
        ServerError: when the server's order is not ascending (the merge with the disk walk would be wrong), or
            an entry has no usable id.
    """
    previous: tuple[str, ...] | None = None
    page = 1
    while True:
        items = source.list_page("File", page=page, page_size=page_size, properties=PROPERTIES)
        for item in items:
            entry = _parse(item, source.url)
            if previous is not None and entry.key <= previous:
                if entry.key == previous:
                    continue  # a node created meanwhile shifted the pages by one: the same entry again
                raise ServerError(
                    f"the File listing of {source.url} is not sorted by id (_sort=id); cannot compare it with files/",
                    url=source.url,
                )
            previous = entry.key
            yield entry
        if len(items) < page_size:
            return
        page += 1
