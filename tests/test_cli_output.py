"""What the command line prints: verbosity flags anywhere, one line per fact, a closed pipe is not a bug."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structr_appsync.cli import build_parser, verbosity_of
from structr_appsync.errors import EXIT_BROKEN_PIPE
from tests.exportutil import commit_count, make_export_repo
from tests.helpers import run_cli
from tests.paths import FIXTURES
from tests.structr_emulator.harness import Emulator


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["status", "-v"], 1),
        (["-v", "status"], 1),
        (["-v", "status", "-v"], 2),
        (["status", "-q"], -1),
        (["backup", "list", "-vv"], 2),
        (["backup", "-v", "list", "-v"], 2),
        (["-q", "hooks", "status", "-v"], 0),
    ],
)
def test_verbosity_flags_count_wherever_they_stand(argv: list[str], expected: int) -> None:
    assert verbosity_of(build_parser().parse_args(argv)) == expected


def test_v_after_the_command_shows_the_traceback_of_an_error(tmp_path: Path) -> None:
    (tmp_path / "appsync.toml").write_text("this is not toml [\n")
    result = run_cli("status", "-v", cwd=tmp_path)
    assert result.code == 2, result.err
    assert "unrecognized arguments" not in result.err
    assert "Traceback" in result.err  # -v took effect


def test_an_import_says_each_fact_once(tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    assert run_cli("export", cwd=root).code == 0
    emulator.create_page("about", "<html><body><h1>About</h1></body></html>")
    assert run_cli("export", cwd=root).code == 0
    emulator.delete_page("about")
    assert run_cli("export", "--force", cwd=root).code == 0
    result = run_cli("import", "HEAD~1", "--yes", "--allow-delete", cwd=root)
    assert result.code == 0, result.err
    said = (result.out + result.err).lower()
    assert said.count("rollback point") == 1, said

    again = run_cli("import", "HEAD~1", "--yes", "--allow-delete", cwd=root)
    assert again.code == 0, again.err
    assert (again.out + again.err).lower().count("nothing to import") == 1, again.out + again.err


def test_export_into_a_closed_pipe_exits_quietly_after_committing(
    tmp_path: Path, emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.import_dir(FIXTURES / "hello-world")
    root = make_export_repo(tmp_path, emulator, monkeypatch)
    before = commit_count(root)
    read_end, write_end = os.pipe()
    os.close(read_end)  # `appsync export | head -0`: the reader is gone before anything is printed
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "structr_appsync", "export"],
            cwd=root,
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)
    assert completed.returncode == EXIT_BROKEN_PIPE, completed.stderr
    assert "internal error" not in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "Exception ignored" not in completed.stderr
    assert commit_count(root) == before + 1  # the work was done before printing, and stays done


def test_every_subcommand_help_says_what_it_does() -> None:
    parser = build_parser()
    seen = 0
    stack = [parser]
    while stack:
        current = stack.pop()
        for action in current._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    if name == "hook-run":
                        continue
                    assert sub.description, f"{sub.prog} --help has no description"
                    seen += 1
                    stack.append(sub)
    assert seen >= 10
    install = parser.parse_args(["hooks", "install"])
    assert install.hooks_action == "install"


def test_hooks_uninstall_help_is_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["hooks", "uninstall", "--help"])
    text = capsys.readouterr().out
    assert "install default" not in text
    assert "Remove appsync's hooks" in text


# Ctrl-C lands while the command line's modules are still loading (the slow half second of a start): a finder
# that raises KeyboardInterrupt for structr_appsync.cli puts it there every time, without racing a timer.
_CTRL_C_DURING_STARTUP = """
import sys
class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "structr_appsync.cli":
            raise KeyboardInterrupt
        return None
sys.meta_path.insert(0, CtrlC())
from structr_appsync.entry import run
run()
"""


def test_ctrl_c_while_starting_is_one_line_not_a_traceback() -> None:
    completed = subprocess.run(
        [sys.executable, "-c", _CTRL_C_DURING_STARTUP, "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 130, completed.stderr
    assert completed.stderr == "appsync: interrupted while starting; nothing was done\n"
