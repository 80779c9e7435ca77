"""Install, remove and inspect appsync's git hook shims: an ID marker line, foreign hooks kept as <hook>.legacy."""

from __future__ import annotations

import enum
import importlib.resources
import logging
import os
import re
import shlex
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from structr_appsync.errors import GitError, HookError
from structr_appsync.workspace import open_repository

logger = logging.getLogger(__name__)

HOOK_TYPES = ("pre-commit", "pre-push", "post-merge", "post-checkout")
TEMPLATE_NAME = "appsync-hook.sh"
# The marker that makes a hook file "ours". Never change it: installed shims are recognised by it.
HOOK_ID = "appsync-hook-id: 3b6f0c1e-structr-appsync-hook"
# Markers of shims written by appsync builds before the ID line above existed. A hook carrying one of them
# is replaced in place (not kept as .legacy) and reported as outdated.
PRIOR_IDS = ("# structr-appsync git hook shim (pre-release)",)
# Bump when the template changes in a way that installed shims should pick up; status reports older ones.
SHIM_VERSION = 1
LEGACY_SUFFIX = ".legacy"
_VERSION_RE = re.compile(r"^# appsync-hook-version: (\d+)\s*$", re.MULTILINE)
_PYTHON_RE = re.compile(r"^APPSYNC_PYTHON=(.*)$", re.MULTILINE)
_HEAD_BYTES = 8192


class HookState(enum.Enum):
    """What occupies a hook file."""

    ABSENT = "not installed"
    CURRENT = "installed"
    OUTDATED = "installed, outdated"
    FOREIGN = "foreign hook (not appsync)"


@dataclass(frozen=True)
class HookLocation:
    """Where hooks live for a repository, and why."""

    hooks_dir: Path
    default_dir: Path
    hooks_path_setting: str | None
    work_tree: Path

    @property
    def uses_hooks_path(self) -> bool:
        return self.hooks_dir != self.default_dir


@dataclass(frozen=True)
class HookStatus:
    """The state of one hook type."""

    hook_type: str
    path: Path
    state: HookState
    version: int | None = None
    interpreter: str | None = None
    legacy: Path | None = None

    @property
    def interpreter_ok(self) -> bool:
        return self.interpreter is not None and os.access(self.interpreter, os.X_OK)

    def to_json(self) -> dict[str, object]:
        return {
            "hook": self.hook_type,
            "path": str(self.path),
            "state": self.state.name.lower(),
            "version": self.version,
            "interpreter": self.interpreter,
            "interpreter_ok": self.interpreter_ok if self.interpreter else None,
            "legacy": str(self.legacy) if self.legacy else None,
        }


@dataclass(frozen=True)
class HookChange:
    """What install or uninstall did to one hook type (one line for the user)."""

    hook_type: str
    path: Path
    action: str


def parse_hook_types(text: str | None, default: Sequence[str]) -> tuple[str, ...]:
    """Turn "pre-commit,pre-push" into a checked tuple; raise HookError naming an unknown hook."""
    if not text:
        return tuple(default)
    chosen: list[str] = []
    for raw in text.split(","):
        name = raw.strip()
        if not name:
            continue
        if name == "all":
            return HOOK_TYPES
        if name not in HOOK_TYPES:
            raise HookError(f"unknown hook {name!r}; choose from {', '.join(HOOK_TYPES)}")
        if name not in chosen:
            chosen.append(name)
    if not chosen:
        raise HookError("no hooks named; choose from " + ", ".join(HOOK_TYPES))
    return tuple(chosen)


def locate(start: Path, *, use_hooks_path: bool) -> HookLocation:
    """Return the hooks directory of the repository around ``start``.

    Raises:
        HookError: outside a git working tree, or when core.hooksPath is set and ``use_hooks_path`` is false.
    """
    try:
        repo = open_repository(start)
    except GitError as exc:
        raise HookError(str(exc), hint=exc.hint) from exc
    # Hooks are shared by all worktrees: they live in the common git dir.
    default_dir = repo.common_dir / "hooks"
    setting = repo.config_value("core.hooksPath", path=True)
    if setting is None:
        return HookLocation(default_dir, default_dir, None, repo.root)
    # Git resolves a relative core.hooksPath against the directory hooks run in: the top of the work tree.
    configured = Path(setting).expanduser()
    if not configured.is_absolute():
        configured = repo.root / configured
    if configured.resolve() == default_dir.resolve():
        return HookLocation(default_dir, default_dir, setting, repo.root)
    if not use_hooks_path:
        raise HookError(
            f"core.hooksPath is set to {setting!r}, so git ignores {default_dir}; another hook manager may own it",
            hint=(
                "install there with `appsync hooks install --hooks-path`, "
                "or remove the setting with `git config --unset core.hooksPath`"
            ),
        )
    return HookLocation(configured, default_dir, setting, repo.root)


def _template_text() -> str:
    shipped = importlib.resources.files("structr_appsync").joinpath("_hooks", TEMPLATE_NAME)
    if shipped.is_file():
        return shipped.read_text(encoding="utf-8")
    # Running from a source checkout (or an editable install): the template sits in the top-level hooks/.
    source = Path(__file__).resolve().parents[2] / "hooks" / TEMPLATE_NAME
    try:
        return source.read_text(encoding="utf-8")
    except OSError as exc:
        raise HookError(f"the hook template {TEMPLATE_NAME} is missing from this appsync installation") from exc


def render(hook_type: str, python: str) -> str:
    """Return the shim for ``hook_type`` with the interpreter path baked in."""
    text = _template_text()
    for marker, value in (
        ("@@HOOK_TYPE@@", shlex.quote(hook_type)),
        ("@@PYTHON@@", shlex.quote(python)),
        ("@@VERSION@@", str(SHIM_VERSION)),
    ):
        if marker not in text:
            raise HookError(f"the hook template {TEMPLATE_NAME} has no {marker} marker; the installation is broken")
        text = text.replace(marker, value)
    return text


def _read_head(path: Path) -> str:
    with path.open("rb") as handle:
        return handle.read(_HEAD_BYTES).decode("utf-8", errors="replace")


def inspect(location: HookLocation, hook_type: str) -> HookStatus:
    """Return the state of one hook in ``location``."""
    path = location.hooks_dir / hook_type
    legacy_path = path.with_name(hook_type + LEGACY_SUFFIX)
    legacy = legacy_path if legacy_path.exists() or legacy_path.is_symlink() else None
    if not (path.exists() or path.is_symlink()):
        return HookStatus(hook_type, path, HookState.ABSENT, legacy=legacy)
    try:
        head = _read_head(path)
    except OSError:
        return HookStatus(hook_type, path, HookState.FOREIGN, legacy=legacy)
    if HOOK_ID in head:
        version_match = _VERSION_RE.search(head)
        version = int(version_match.group(1)) if version_match else 0
        python_match = _PYTHON_RE.search(head)
        interpreter = None
        if python_match:
            parts = shlex.split(python_match.group(1))
            interpreter = parts[0] if parts else None
        state = HookState.CURRENT if version >= SHIM_VERSION else HookState.OUTDATED
        return HookStatus(hook_type, path, state, version, interpreter, legacy)
    if any(marker in head for marker in PRIOR_IDS):
        return HookStatus(hook_type, path, HookState.OUTDATED, 0, None, legacy)
    return HookStatus(hook_type, path, HookState.FOREIGN, legacy=legacy)


def status(location: HookLocation, hook_types: Iterable[str] = HOOK_TYPES) -> list[HookStatus]:
    """Return the state of each hook type."""
    return [inspect(location, hook_type) for hook_type in hook_types]


def _write_executable(path: Path, text: str) -> None:
    # Write beside the target and rename, so git never runs a half-written hook.
    descriptor, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        temp.chmod(0o755)
        temp.replace(path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def install(location: HookLocation, hook_types: Iterable[str], *, python: str | None = None) -> list[HookChange]:
    """Install the shims; a foreign hook moves to <hook>.legacy and keeps running before appsync.

    Raises:
        HookError: when a foreign hook and a .legacy file both exist (nothing is overwritten), or on I/O errors.
    """
    interpreter = python or sys.executable
    hook_types = list(hook_types)
    current = {hook_type: inspect(location, hook_type) for hook_type in hook_types}
    for hook_status in current.values():
        if hook_status.state is HookState.FOREIGN and hook_status.legacy is not None:
            raise HookError(
                f"{hook_status.path} is not appsync's and {hook_status.legacy.name} already exists beside it",
                hint="merge or remove one of them by hand, then run `appsync hooks install` again",
            )
    changes: list[HookChange] = []
    try:
        location.hooks_dir.mkdir(parents=True, exist_ok=True)
        for hook_type in hook_types:
            hook_status = current[hook_type]
            text = render(hook_type, interpreter)
            if hook_status.state is HookState.FOREIGN:
                legacy = hook_status.path.with_name(hook_type + LEGACY_SUFFIX)
                hook_status.path.replace(legacy)
                _write_executable(hook_status.path, text)
                action = f"installed; the previous hook was kept as {legacy.name} and still runs first"
            elif hook_status.state is HookState.ABSENT:
                _write_executable(hook_status.path, text)
                action = "installed"
                if hook_status.legacy is not None:
                    action += f" (chains to {hook_status.legacy.name})"
            else:
                unchanged = hook_status.path.read_text(encoding="utf-8", errors="replace") == text
                _write_executable(hook_status.path, text)
                if unchanged:
                    action = "already installed"
                elif hook_status.state is HookState.OUTDATED:
                    action = f"upgraded from version {hook_status.version}"
                else:
                    action = "updated"
            logger.debug("%s: %s", hook_status.path, action)
            changes.append(HookChange(hook_type, hook_status.path, action))
    except OSError as exc:
        raise HookError(f"cannot write hooks in {location.hooks_dir}: {exc.strerror or exc}") from exc
    return changes


def uninstall(location: HookLocation, hook_types: Iterable[str]) -> list[HookChange]:
    """Remove appsync's shims and put back the hooks they replaced; foreign hooks are left alone.

    Raises:
        HookError: on I/O errors.
    """
    changes: list[HookChange] = []
    try:
        for hook_type in hook_types:
            hook_status = inspect(location, hook_type)
            path = hook_status.path
            if hook_status.state is HookState.FOREIGN:
                note = " (a .legacy file is beside it; appsync left both alone)" if hook_status.legacy else ""
                changes.append(HookChange(hook_type, path, f"not appsync's hook, left in place{note}"))
                continue
            if hook_status.state is not HookState.ABSENT:
                path.unlink()
            if hook_status.legacy is not None:
                hook_status.legacy.replace(path)
                action = f"removed; restored the previous hook from {hook_status.legacy.name}"
            elif hook_status.state is HookState.ABSENT:
                action = "not installed"
            else:
                action = "removed"
            changes.append(HookChange(hook_type, path, action))
    except OSError as exc:
        raise HookError(f"cannot change hooks in {location.hooks_dir}: {exc.strerror or exc}") from exc
    return changes
