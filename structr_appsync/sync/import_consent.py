"""Who may authorize an import: the consent rules of `appsync import`, as a pure function."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from structr_appsync.errors import RefusedError

Confirm = Callable[[str], bool]


@dataclass(frozen=True)
class ConsentRequest:
    """What the import is about to do, as far as consent is concerned."""

    env_name: str
    ref_label: str
    protected: bool
    deletions: Mapping[str, Sequence[str]]  # category -> names removed on the server

    @property
    def deletion_count(self) -> int:
        return sum(len(names) for names in self.deletions.values())


def describe_deletions(deletions: Mapping[str, Sequence[str]], *, limit: int = 5) -> str:
    """Return "2 pages (about, news); 1 schema type (Foo)" for the non-empty categories."""
    parts = []
    for category, names in deletions.items():
        if not names:
            continue
        shown = ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")
        label = category.replace("_", " ")
        if len(names) == 1 and label.endswith("s"):
            label = label[:-1]
        parts.append(f"{len(names)} {label} ({shown})")
    return "; ".join(parts)


def _prompt(request: ConsentRequest) -> str:
    target = f"{'protected ' if request.protected else ''}environment {request.env_name!r}"
    text = f"Import {request.ref_label} into {target}?"
    if request.deletion_count:
        text += f" This REMOVES {describe_deletions(request.deletions)}."
    return text + " Type yes to go on:"


def require_consent(request: ConsentRequest, *, yes: bool, allow_delete: bool, confirm: Confirm | None) -> None:
    """Return if the import may go on; ask through ``confirm`` (None = not interactive) when the rules say so.

    Rules: deletions need --allow-delete or a typed yes, and --yes alone never authorizes one. A protected
    environment always asks; without a terminal it needs both --yes and --allow-delete.

    Raises:
        RefusedError: when consent is missing or the user declined.
    """
    deleting = request.deletion_count > 0
    if request.protected:
        if confirm is None:
            if yes and allow_delete:
                return
            raise RefusedError(
                f"environment {request.env_name!r} is protected: "
                "a non-interactive import needs both --yes and --allow-delete",
                hint="run it in a terminal to confirm, or pass both flags",
            )
        if not confirm(_prompt(request)):
            raise RefusedError("import declined; the server was not changed")
        return
    if deleting and not allow_delete:
        if confirm is None:
            raise RefusedError(
                f"the import would remove {describe_deletions(request.deletions)}: that needs --allow-delete; "
                "nothing was changed",
                hint="--yes alone never authorizes a deletion; pass --allow-delete, or run it in a terminal",
            )
        if not confirm(_prompt(request)):
            raise RefusedError("import declined; the server was not changed")
        return
    if not yes and confirm is not None and not confirm(_prompt(request)):
        raise RefusedError("import declined; the server was not changed")
