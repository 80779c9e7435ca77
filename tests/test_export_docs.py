"""The README documents what the export side offers: commands, config keys, exit codes."""

from __future__ import annotations

import re

import pytest

from structr_appsync import errors
from structr_appsync.cli import build_parser
from structr_appsync.config import AppsyncConfig, EnvConfig, NormalizeConfig, PathTransfer, Timeouts
from tests.paths import REPO_ROOT

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("command", ["init", "export", "status", "diff", "log"])
def test_each_export_command_has_help_and_a_readme_section(command: str) -> None:
    parser = build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    assert command in subparsers.choices  # type: ignore[operator]
    assert subparsers.choices[command].format_help()  # type: ignore[index]
    assert f"### `appsync {command}" in README


def test_config_reference_names_every_export_key() -> None:
    section = README.split("## Configuration reference", 1)[1].split("\n## ", 1)[0]
    keys = [name for name in AppsyncConfig.model_fields if name not in ("hooks", "watch", "env", "normalize")]
    keys += [f"normalize.{name}" for name in NormalizeConfig.model_fields]
    keys += [
        f"env.NAME.{name}" for name in EnvConfig.model_fields if name not in ("timeouts", "path_transfer", "backup")
    ]
    keys += [f"env.NAME.timeouts.{name}" for name in Timeouts.model_fields]
    keys += [f"env.NAME.path_transfer.{name}" for name in PathTransfer.model_fields]
    missing = [key for key in keys if f"`{key}`" not in section]
    assert missing == []


def test_exit_code_table_lists_every_code() -> None:
    section = README.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", section, flags=re.MULTILINE)}
    defined = {value for name, value in vars(errors).items() if name.startswith("EXIT_")}
    assert documented == defined
