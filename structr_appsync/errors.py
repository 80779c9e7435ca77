"""The exception tree: every failure the user can see, each with its exit code."""

from __future__ import annotations

# Exit codes, documented in the README. Keep the table and these constants in step.
EXIT_OK = 0
EXIT_FAILED = 1  # the operation ran and failed, or found drift / a verification difference
EXIT_USAGE = 2  # bad command line or configuration
EXIT_UNREACHABLE = 3  # server unreachable, timed out, or credentials refused
EXIT_SERVER = 4  # the server answered, but with an error or something that is not a usable export
EXIT_REFUSED = 5  # refused for safety: local edits, uncommitted server changes, missing consent
EXIT_LOCKED = 6  # another appsync process holds the lock
EXIT_BACKUP = 7  # a backup, restore or service operation failed (services were restarted)
EXIT_INTERRUPTED = 130  # Ctrl-C, SIGTERM, SIGHUP or SIGQUIT
EXIT_BROKEN_PIPE = 141  # the reader of standard output went away (`appsync log | head`), as for git
EXIT_BUG = 70  # an unexpected exception: a bug in appsync


class AppsyncError(Exception):
    """Base class: a failure with a one-line message that tells the user what to do."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(AppsyncError, ValueError):
    """The configuration file is missing, malformed or invalid."""

    exit_code = EXIT_USAGE


class UsageError(AppsyncError, ValueError):
    """The command line asks for something that cannot be done."""

    exit_code = EXIT_USAGE


class ServerError(AppsyncError):
    """Structr answered, but not with what was asked for."""

    exit_code = EXIT_SERVER

    def __init__(
        self, message: str, *, url: str | None = None, status: int | None = None, hint: str | None = None
    ) -> None:
        super().__init__(message, hint=hint)
        self.url = url
        self.status = status


class ServerUnavailable(ServerError):
    """Structr could not be reached, or did not answer in time."""

    exit_code = EXIT_UNREACHABLE


class AuthError(ServerError):
    """Structr refused the credentials, or the user is not an admin."""

    exit_code = EXIT_UNREACHABLE


class ExportInvalid(ServerError):
    """What Structr sent back is not a complete deployment export."""


class DeployServletMissing(ServerError):
    """Structr answers, but does not serve the ZIP deployment servlet /structr/deploy (5.2 Community)."""


class DeploymentFailed(ServerError):
    """Structr reported success (often HTTP 200) but the deployment did not happen."""


class GitError(AppsyncError):
    """A git operation failed."""


class NotARepository(GitError):
    """The configuration does not sit in a usable git working tree (a setup problem, like a bad config)."""

    exit_code = EXIT_USAGE


class RefNotFound(GitError):
    """The git ref does not exist or holds no deployment export."""

    exit_code = EXIT_USAGE


class RefusedError(AppsyncError):
    """appsync refuses to go on because it could lose work; the message says how to proceed."""

    exit_code = EXIT_REFUSED


class DirtyWorktree(RefusedError, GitError):
    """The export folder has local edits that are not committed."""


class VerificationFailed(AppsyncError):
    """After an import, the server does not hold what the ref says."""

    exit_code = EXIT_FAILED


class LockHeld(AppsyncError):
    """Another appsync process is working on the same repository or backup store."""

    exit_code = EXIT_LOCKED


class HookError(AppsyncError):
    """Installing, removing or running a git hook failed."""


class BackupError(AppsyncError):
    """A backup, verify, prune or restore failed."""

    exit_code = EXIT_BACKUP


class ServiceError(BackupError):
    """A service did not stop, start or become healthy."""


class ArchiveError(BackupError):
    """A backup generation is incomplete, corrupt or could not be written."""


class CommandError(AppsyncError):
    """An external command exited non-zero."""

    def __init__(self, cmd: str, returncode: int, stdout: str = "", stderr: str = "") -> None:
        detail = (stderr or stdout).strip().splitlines()
        tail = f": {detail[-1]}" if detail else ""
        super().__init__(f"command `{cmd}` exited with {returncode}{tail}")
        self.cmd = cmd
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    @property
    def details(self) -> str:
        """The command's whole error output (stdout when stderr is empty), indented: what -v prints."""
        text = (self.stderr or self.stdout).rstrip("\n")
        return "\n".join(f"    {line}" for line in text.splitlines())


class Interrupted(AppsyncError):
    """The run was interrupted by a signal; cleanup has run."""

    exit_code = EXIT_INTERRUPTED
