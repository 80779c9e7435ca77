"""`appsync log`: the export history, i.e. the commits that touched the export folder."""

from __future__ import annotations

import argparse
import re

from structr_appsync.commands._shared import add_json_option, open_workspace, print_json
from structr_appsync.errors import EXIT_OK

_TRAILER = re.compile(r"^([A-Za-z][A-Za-z0-9-]*): (.*)$")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("log", help="list the commits that touched the export folder, with summaries")
    parser.add_argument("-n", "--max-count", type=int, default=None, help="show at most N commits")
    add_json_option(parser)
    parser.set_defaults(handler=_handle)


def split_body(body: str) -> tuple[list[str], dict[str, str]]:
    """Split a commit body into summary lines and the trailing `Key: value` trailers."""
    paragraphs = body.strip().split("\n\n")
    trailers: dict[str, str] = {}
    last = paragraphs[-1].splitlines() if paragraphs and paragraphs[-1] else []
    if last and all(_TRAILER.match(line) for line in last):
        for line in last:
            match = _TRAILER.match(line)
            if match:
                trailers[match.group(1)] = match.group(2)
        paragraphs = paragraphs[:-1]
    lines = [line for paragraph in paragraphs for line in paragraph.splitlines() if line.strip()]
    return lines, trailers


def _handle(args: argparse.Namespace) -> int:
    ws = open_workspace(args)
    entries = ws.repo.log_paths(ws.folder.git_path, max_count=args.max_count)
    if args.json:
        records = []
        for entry in entries:
            lines, trailers = split_body(entry.body)
            records.append(
                {
                    "commit": entry.sha,
                    "author": entry.author,
                    "date": entry.date,
                    "subject": entry.subject,
                    "summary": lines,
                    "trailers": trailers,
                }
            )
        print_json(records)
        return EXIT_OK
    if not entries:
        print(f"no commits touch {ws.folder.git_path}/ yet; run `appsync export`")
    for entry in entries:
        lines, trailers = split_body(entry.body)
        extra = ", ".join(f"{key} {trailers[key]}" for key in ("Appsync-Env", "Structr-Version") if key in trailers)
        print(f"{entry.sha[:10]} {entry.date} {entry.subject}" + (f"  [{extra}]" if extra else ""))
        for line in lines:
            print(f"    {line}")
    return EXIT_OK
