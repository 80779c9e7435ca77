"""`appsync init`: write appsync.toml and create the git repository if needed. Never asks."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from structr_appsync.config import (
    CONFIG_FILE_NAME,
    DEFAULT_PASSWORD_ENV,
    AppsyncConfig,
    parse_config,
    resolve_password,
    resolve_user,
)
from structr_appsync.errors import EXIT_OK, ConfigError, GitError, RefusedError, UsageError
from structr_appsync.gitrepo import GitRepo
from structr_appsync.sync.transfer_detect import TransferChoice, detect_transfer
from structr_appsync.workspace import open_repository


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init",
        help="write appsync.toml and create the git repository if needed",
        description="Set up the current directory (or the root of the git repository it is in) without asking.",
    )
    parser.add_argument("--url", required=True, help="Structr base URL, e.g. http://localhost:8082")
    parser.add_argument("--user", default=None, help="admin user (default: $APPSYNC_USER, then admin)")
    parser.add_argument("--export-dir", default="webapp", help="folder holding the export (default: webapp)")
    parser.add_argument("--env", default="dev", help="name of the environment (default: dev)")
    parser.add_argument(
        "--password-env", default=DEFAULT_PASSWORD_ENV, help="variable holding the password (default: %(default)s)"
    )
    parser.add_argument(
        "--transfer",
        choices=("zip", "path"),
        default=None,
        help="transfer mode (default: probe the server and pick the one that works)",
    )
    parser.add_argument("--force", action="store_true", help="overwrite an existing appsync.toml")
    parser.set_defaults(handler=_handle)


def _quote(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def render_config(args: argparse.Namespace, transfer: TransferChoice) -> str:
    """The text of a new appsync.toml from the options of `appsync init` and the transfer chosen."""
    url, user, export_dir, env = args.url, args.user, args.export_dir, args.env
    password_env = args.password_env
    lines = [
        "# appsync configuration; reference: README.md, section Configuration",
        f"export_dir = {_quote(export_dir)}",
        f"default_env = {_quote(env)}",
        "",
        f"[env.{_quote(env)}]",
        f"url = {_quote(url)}",
    ]
    if user:
        lines.append(f"user = {_quote(user)}")
    lines += [
        f'password_env = {_quote(password_env)}   # or password_file = "/path/to/0600-file"',
        f"# transfer: {transfer.reason}",
        f"transfer = {_quote(transfer.transfer)}",
        "",
    ]
    if transfer.transfer == "path":
        lines += [
            f"[env.{_quote(env)}.path_transfer]",
            "# the directory as Structr sees it; appsync uses and removes a fresh subfolder in it per run",
            'server_dir = "/tmp/appsync-transfer"',
            "# the same directory as appsync sees it, when Structr runs elsewhere (a shared volume):",
            '# local_dir = "/mnt/structr-transfer"',
            "",
        ]
    return "\n".join(lines)


def _choose_transfer(args: argparse.Namespace, draft: AppsyncConfig) -> TransferChoice:
    if args.transfer:
        return TransferChoice(args.transfer, "chosen with --transfer", probed=False)
    env = draft.env[args.env]
    try:
        password: str | None = resolve_password(env, args.env)
    except ConfigError:
        password = None  # probe without credentials: a 401 still tells that the servlet is there
    return detect_transfer(env.url, resolve_user(env), password)


def _parse(text: str, config_path: Path) -> AppsyncConfig:
    try:
        return parse_config(text, config_path)
    except ValueError as exc:
        raise UsageError(str(exc).replace(f"invalid config {config_path}: ", "invalid option: ")) from exc


def _handle(args: argparse.Namespace) -> int:
    here = Path.cwd()
    try:
        root: Path | None = open_repository(here).root
    except GitError:
        root = None
    created_repo = root is None
    target_root = here if root is None else root
    config_path = Path(args.config).resolve() if args.config else target_root / CONFIG_FILE_NAME
    if config_path.exists() and not args.force:
        raise RefusedError(f"{config_path} already exists", hint="pass --force to overwrite it")
    draft = _parse(render_config(args, TransferChoice("zip", "draft")), config_path)
    choice = _choose_transfer(args, draft)
    text = render_config(args, choice)
    _parse(text, config_path)
    if created_repo:
        GitRepo.create(target_root)
    config_path.write_text(text, encoding="utf-8")
    print(f"wrote {config_path} (env {args.env}: {args.url}, export folder {args.export_dir}/)")
    print(f"transfer = {choice.transfer!r}: {choice.reason}")
    if choice.advice:
        print(f"to do: {choice.advice}")
    if created_repo:
        print(f"created a git repository in {target_root}")
    shown = config_path.relative_to(target_root) if config_path.is_relative_to(target_root) else config_path
    print(f"next: commit {shown} (it holds no password): git add {shown} && git commit -m 'appsync configuration'")
    print(f"then: {args.password_env}=... appsync export")
    return EXIT_OK
