"""The README's hooks-and-watch section cannot drift from the config models and the CLI."""

from __future__ import annotations

from structr_appsync.config import HookConfig, WatchConfig
from structr_appsync.sync.hook_install import HOOK_TYPES
from tests.helpers import run_cli
from tests.paths import REPO_ROOT


def section() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Git hooks and watch mode")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def test_every_hook_and_watch_key_is_documented() -> None:
    documented = section()
    for key in [*HookConfig.model_fields, *WatchConfig.model_fields]:
        assert f"{key} =" in documented, key
    for hook_type in HOOK_TYPES:
        assert f"`{hook_type}`" in documented, hook_type


def test_documented_commands_and_options_exist() -> None:
    documented = section()
    for argv, options in (
        (("hooks", "install", "--help"), ("--hooks", "--hooks-path")),
        (("watch", "--help"), ("--env", "--debounce", "--export-every", "--no-export")),
    ):
        result = run_cli(*argv)
        assert result.code == 0
        for option in options:
            assert option in result.out and option in documented, option
    for guard in ("APPSYNC_SKIP", "APPSYNC_HOOK_ACTIVE", "core.hooksPath", ".legacy", ".pre-commit-hooks.yaml"):
        assert guard in documented, guard
