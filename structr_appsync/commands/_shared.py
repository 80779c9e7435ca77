"""Helpers shared by the command modules: common options and config loading."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from structr_appsync.backup.recovery import restart_left_stopped_once
from structr_appsync.config import LoadedConfig, load_config
from structr_appsync.workspace import Workspace


def add_env_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-e", "--env", help="environment from appsync.toml (default: default_env)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print a machine-readable JSON result on stdout")


def load(args: argparse.Namespace) -> LoadedConfig:
    """Load the configuration named by --config (or found from the current directory)."""
    return load_config(getattr(args, "config", None))


def open_workspace(args: argparse.Namespace) -> Workspace:
    """Load the configuration and open the repository around it: once per command.

    Services that a killed backup left stopped are started once here (one stat per backup table when there is
    nothing to do); the backup commands recover themselves, with retries.
    """
    loaded = load(args)
    restart_left_stopped_once(loaded)
    return Workspace.open(loaded)


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True, default=str)
    sys.stdout.write("\n")


def ask_yes(question: str) -> bool:
    """Ask on the terminal; only the word `yes` agrees (the same answer for every command that asks)."""
    sys.stderr.write(question + " ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except (OSError, ValueError):
        return False
    return answer.strip().lower() == "yes"
