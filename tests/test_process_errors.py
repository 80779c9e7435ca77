"""CommandError keeps the whole output of a failed command; the one-line message shows its last line."""

from __future__ import annotations

import pytest

from structr_appsync import process
from structr_appsync.cli import _report
from structr_appsync.errors import CommandError, GitError


def test_command_error_keeps_every_line_of_stderr_indented() -> None:
    with pytest.raises(CommandError) as caught:
        process.run("echo first >&2; echo second >&2; echo last >&2; exit 4", shell=True)
    error = caught.value
    assert "\n" not in str(error)
    assert str(error).endswith("exited with 4: last")
    assert error.details == "    first\n    second\n    last"


def test_verbose_report_prints_the_output_of_the_command_behind_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    try:
        try:
            process.run("echo 'fatal: one' >&2; echo 'fatal: two' >&2; exit 1", shell=True)
        except CommandError as exc:
            raise GitError(f"git add failed: {exc.message}") from exc
    except GitError as error:
        _report(error, verbose=True)
        _report(error)
    err = capsys.readouterr().err
    assert err.count("appsync: error: git add failed") == 2
    assert err.count("    fatal: one\n    fatal: two\n") == 1  # only with -v
