"""The git facade: the only module that imports GitPython; plumbing runs through process.run.

Everything appsync writes to git is built from plumbing (temporary index files, mktree, commit-tree,
update-ref), so that the user's index and working tree are touched only where the caller says so, and
their other staged or unstaged work is never committed.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from structr_appsync import process
from structr_appsync.errors import CommandError, GitError, NotARepository, RefNotFound

logger = logging.getLogger(__name__)

HOOK_ENV = {"APPSYNC_HOOK_ACTIVE": "1"}
_GIT_TIMEOUT = 3600.0


@dataclass(frozen=True)
class LogEntry:
    """One commit of `git log`."""

    sha: str
    author: str
    date: str
    subject: str
    body: str


class GitRepo:
    """A git repository with a working tree, addressed by its root."""

    def __init__(self, root: Path, git_dir: Path, common_dir: Path) -> None:
        self.root = root
        self.git_dir = git_dir
        self.common_dir = common_dir

    # -- opening ---------------------------------------------------------------------------------------------

    @classmethod
    def open(cls, start: Path) -> GitRepo:
        """Open the repository containing ``start``.

        Raises:
            GitError: when ``start`` is not inside a git working tree.
        """
        try:
            repo = git.Repo(start, search_parent_directories=True)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise NotARepository(
                f"{start} is not inside a git repository", hint="run `appsync init` or `git init` first"
            ) from exc
        try:
            if repo.bare or repo.working_tree_dir is None:
                raise NotARepository(f"{start}: the repository has no working tree")
            root = Path(repo.working_tree_dir).resolve()
            git_dir = Path(repo.git_dir).resolve()
            common_dir = Path(repo.common_dir).resolve()
        finally:
            repo.close()
        return cls(root, git_dir, common_dir)

    @staticmethod
    def create(path: Path) -> None:
        """Create a repository at ``path`` unless there is one already (open it with workspace.open_repository)."""
        try:
            git.Repo(path, search_parent_directories=False).close()
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            path.mkdir(parents=True, exist_ok=True)
            git.Repo.init(path).close()

    # -- running git -----------------------------------------------------------------------------------------

    def _env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        env = dict(HOOK_ENV)
        if extra:
            env.update(extra)
        return env

    def git(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input_text: str | None = None,
        check: bool = True,
        cwd: Path | None = None,
    ) -> process.Result:
        """Run `git <args>` in this repository.

        Raises:
            GitError: when git fails (with check).
        """
        try:
            return process.run(
                ["git", *args],
                cwd=cwd or self.root,
                env=self._env(env),
                input_text=input_text,
                check=check,
                timeout=_GIT_TIMEOUT,
            )
        except CommandError as exc:
            raise GitError(f"git {args[0]} failed: {exc.message}") from exc

    def _git_bytes(self, *args: str, env: Mapping[str, str] | None = None) -> bytes | None:
        repo = git.Repo(self.root)
        try:
            status, out, _err = repo.git.execute(
                ["git", *args],
                with_extended_output=True,
                with_exceptions=False,
                stdout_as_string=False,
                strip_newline_in_stdout=False,
                env=self._env(env),
            )
        finally:
            repo.close()
        return out if status == 0 and isinstance(out, bytes) else None

    # -- reading ---------------------------------------------------------------------------------------------

    def head_sha(self) -> str | None:
        """Return the commit HEAD points at, or None on an unborn branch."""
        result = self.git("rev-parse", "--verify", "-q", "HEAD^{commit}", check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def resolve(self, ref: str) -> str:
        """Return the commit id of ``ref``.

        Raises:
            RefNotFound: when the ref does not name a commit.
        """
        result = self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        if result.returncode != 0 or not result.stdout.strip():
            raise RefNotFound(
                f"{ref!r} is not a commit in {self.root}",
                hint="name a branch, tag or commit id; `appsync log` lists the exports",
            )
        return result.stdout.strip()

    def tree_id(self, treeish: str, path: str = "", *, env: Mapping[str, str] | None = None) -> str | None:
        """Return the tree id of ``path`` inside ``treeish`` (a commit or tree), or None if absent."""
        spec = f"{treeish}:{path}" if path else f"{treeish}^{{tree}}"
        result = self.git("rev-parse", "--verify", "-q", spec, check=False, env=env)
        if result.returncode != 0:
            return None
        sha = result.stdout.strip()
        kind = self.git("cat-file", "-t", sha, check=False, env=env).stdout.strip()
        return sha if kind == "tree" else None

    def ref_has_path(self, ref: str, path: str) -> bool:
        return self.tree_id(ref, path) is not None

    def read_blob(self, treeish: str, path: str, *, env: Mapping[str, str] | None = None) -> bytes | None:
        """Return the bytes of ``path`` in ``treeish``, or None if it is not a file there."""
        return self._git_bytes("cat-file", "blob", f"{treeish}:{path}", env=env)

    def read_ref(self, name: str) -> str | None:
        result = self.git("rev-parse", "--verify", "-q", name, check=False)
        return result.stdout.strip() or None if result.returncode == 0 else None

    def config_value(self, key: str, *, path: bool = False) -> str | None:
        """The value of a git config key (``path``: resolved as git resolves paths), or None when unset."""
        args = ["config", *(["--type=path"] if path else []), "--get", key]
        result = self.git(*args, check=False)
        if result.returncode not in (0, 1):
            raise GitError(f"git config --get {key} failed: {result.stderr.strip()}")
        return result.stdout.strip() or None

    def set_config_value(self, key: str, value: str) -> None:
        """Set a key in this repository's own config (.git/config)."""
        self.git("config", "--local", key, value)

    def list_refs(self, prefix: str) -> list[str]:
        result = self.git("for-each-ref", "--format=%(refname)", prefix)
        return [line for line in result.stdout.splitlines() if line]

    def log_paths(self, path: str, *, max_count: int | None = None) -> list[LogEntry]:
        """Return the commits that touched ``path``, newest first."""
        if self.head_sha() is None:
            return []
        args = ["log", "--format=%H%x1f%an%x1f%aI%x1f%s%x1f%b%x1e"]
        if max_count:
            args.append(f"--max-count={max_count}")
        result = self.git(*args, "--", path)
        entries = []
        for record in result.stdout.split("\x1e"):
            record = record.strip("\n")
            if not record:
                continue
            sha, author, date, subject, body = (record.split("\x1f") + [""] * 5)[:5]
            entries.append(LogEntry(sha, author, date, subject, body.strip()))
        return entries

    def diff_trees(
        self, old_tree: str | None, new_tree: str, *, env: Mapping[str, str] | None = None
    ) -> list[tuple[str, str]]:
        """Return (A/M/D, path) for every file that differs between two trees (old None: empty)."""
        old = old_tree or self.empty_tree(env=env)
        result = self.git("diff-tree", "-r", "-z", "--no-renames", "--name-status", old, new_tree, env=env)
        fields = result.stdout.split("\0")
        changes = []
        for status, path in zip(fields[0::2], fields[1::2], strict=False):
            if status and path:
                changes.append(("M" if status[0] == "T" else status[0], path))
        return changes

    def empty_tree(self, *, env: Mapping[str, str] | None = None) -> str:
        return self.git("mktree", input_text="", env=env).stdout.strip()

    def materialize(self, ref: str, subdir: str, dest: Path) -> Path:
        """Write ``subdir`` as it is at ``ref`` into ``dest`` from git objects (never from the working tree).

        Raises:
            RefNotFound: when the ref or the folder in it does not exist.
        """
        tree = self.tree_id(self.resolve(ref), subdir)
        if tree is None:
            raise RefNotFound(f"{ref!r} holds no {subdir}/ folder")
        dest.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="appsync-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            self.git("read-tree", tree, env=env)
            prefix = str(dest.resolve()) + os.sep
            self.git("checkout-index", "-a", "-f", f"--prefix={prefix}", env=env)
        return dest

    def relative_path(self, path: Path) -> str:
        """``path`` relative to the working-tree root, in git's form (forward slashes).

        Raises:
            GitError: when ``path`` is not inside this working tree.
        """
        try:
            relative = path.resolve().relative_to(self.root)
        except ValueError as exc:
            raise NotARepository(f"{path} is not inside the git repository {self.root}") from exc
        if not relative.parts:
            raise NotARepository(f"{path} is the root of the repository, not a folder inside it")
        return relative.as_posix()

    def path_is_dirty(self, path: str) -> bool:
        """True when ``path`` has staged, unstaged or untracked changes (ignored files do not count).

        Uses --no-optional-locks so that even the stat cache in the index is not rewritten.
        """
        return bool(self.changed_paths(path))

    def changed_paths(self, path: str) -> list[str]:
        """Paths under ``path`` (relative to the root) with staged, unstaged or untracked changes against HEAD.

        Ignored files do not count. Uses --no-optional-locks so that even the stat cache in the index is not
        rewritten.
        """
        result = self.git("--no-optional-locks", "status", "--porcelain=v1", "-z", "--untracked-files=all", "--", path)
        entries = result.stdout.split("\0")
        paths: list[str] = []
        index = 0
        while index < len(entries):
            entry = entries[index]
            index += 1
            if len(entry) < 4:
                continue
            if entry[0] in "RC":  # a rename or copy is followed by its source path
                index += 1
            paths.append(entry[3:])
        return paths

    # -- writing objects ---------------------------------------------------------------------------------------

    def scratch_objects_env(self, scratch: Path) -> dict[str, str]:
        """Environment that sends new objects to ``scratch`` while reading the repository's own (no writes)."""
        objects = scratch / "objects"
        objects.mkdir(parents=True, exist_ok=True)
        return {
            "GIT_OBJECT_DIRECTORY": str(objects),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": str(self.common_dir / "objects"),
        }

    def hash_directory(self, source: Path, *, env: Mapping[str, str] | None = None) -> str:
        """Store every file under ``source`` as git objects and return the id of the tree they form.

        Uses a throwaway index, so neither the user's index nor the working tree is touched.
        """
        with tempfile.TemporaryDirectory(prefix="appsync-index-") as tmp:
            full_env = {
                **(env or {}),
                "GIT_INDEX_FILE": str(Path(tmp) / "index"),
                "GIT_WORK_TREE": str(source.resolve()),
                "GIT_DIR": str(self.git_dir),
            }
            self.git("add", "-A", "-f", "--", ".", env=full_env, cwd=source)
            return self.git("write-tree", env=full_env, cwd=source).stdout.strip()

    def tree_with_subtree(self, base_tree: str | None, prefix: str, subtree: str | None) -> str:
        """Return a tree equal to ``base_tree`` with ``prefix`` replaced by ``subtree`` (None: removed)."""
        head, _sep, rest = prefix.partition("/")
        entries: dict[str, str] = {}
        if base_tree:
            listing = self.git("ls-tree", "-z", base_tree).stdout
            for line in listing.split("\0"):
                if line:
                    meta, name = line.split("\t", 1)
                    entries[name] = meta
        if rest:
            inner_base = None
            if head in entries and entries[head].split()[1] == "tree":
                inner_base = entries[head].split()[2]
            inner = self.tree_with_subtree(inner_base, rest, subtree)
            entries[head] = f"040000 tree {inner}"
        elif subtree is None:
            entries.pop(head, None)
        else:
            entries[head] = f"040000 tree {subtree}"
        text = "".join(f"{meta}\t{name}\0" for name, meta in entries.items())
        return self.git("mktree", "-z", input_text=text).stdout.strip()

    def commit_tree(self, tree: str, message: str, parents: tuple[str, ...] = ()) -> str:
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, "-F", "-", input_text=message).stdout.strip()

    def snapshot_commit(self, source: Path | str, prefix: str, message: str, parents: tuple[str, ...] = ()) -> str:
        """Return a commit whose tree holds only ``source`` at ``prefix``; index and worktree untouched.

        ``source`` is a directory (hashed into objects) or the id of a tree already stored.
        """
        subtree = self.hash_directory(source) if isinstance(source, Path) else source
        return self.commit_tree(self.tree_with_subtree(None, prefix, subtree), message, parents)

    def commit_folder(self, parent: str | None, prefix: str, tree: str, message: str, *, reflog: str) -> str:
        """Commit ``parent``'s tree with ``prefix`` replaced by ``tree`` and move HEAD there, only if HEAD is still
        ``parent`` (None: an unborn branch). Returns the new commit.

        Raises:
            GitError: when a step fails or HEAD moved meanwhile.
        """
        parent_tree = self.tree_id(parent) if parent else None
        root_tree = self.tree_with_subtree(parent_tree, prefix, tree)
        sha = self.commit_tree(root_tree, message, (parent,) if parent else ())
        self.update_ref("HEAD", sha, old=parent or "", message=reflog)
        return sha

    def unified_diff(
        self, old_tree: str | None, new_tree: str, *, prefix: str, env: Mapping[str, str], color: bool
    ) -> str:
        """The unified diff between two trees of the folder ``prefix`` (old None: empty), paths shown under it."""
        old = old_tree or self.empty_tree(env=env)
        result = self.git(
            "diff",
            f"--color={'always' if color else 'never'}",
            "--no-renames",
            f"--src-prefix=a/{prefix}/",
            f"--dst-prefix=b/{prefix}/",
            old,
            new_tree,
            env={**env, "GIT_PAGER": "cat"},
        )
        return result.stdout

    def update_ref(self, name: str, sha: str, *, old: str | None = None, message: str = "appsync") -> None:
        """Point ``name`` at ``sha``; with ``old``, only if it still points there ("" = must not exist)."""
        args = ["update-ref", "-m", message, name, sha]
        if old is not None:
            args.append(old or "0" * len(sha))
        self.git(*args)

    # -- index and working tree ------------------------------------------------------------------------------

    @property
    def index_path(self) -> Path:
        """The index git uses here: $GIT_INDEX_FILE inside a hook (e.g. `git commit -a`), else .git/index."""
        override = os.environ.get("GIT_INDEX_FILE")
        if override:
            path = Path(override)
            return path if path.is_absolute() else self.root / path
        return self.git_dir / "index"

    def ignored_paths(self, path: str) -> list[str]:
        """Ignored files and folders under ``path`` (relative to the root; a wholly ignored folder once)."""
        listing = self.git(
            "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory", "--", path
        ).stdout
        return [entry.rstrip("/") for entry in listing.split("\0") if entry]

    def index_paths_from(self, commit: str, path: str) -> None:
        """Make the index entries under ``path`` those of ``commit``; other entries stay as they are.

        The refresh afterwards records the stat data of the (identical) working-tree files, so a later
        `git status` does not hash them again.
        """
        self.git("reset", "-q", commit, "--", path)
        self.git("update-index", "-q", "--refresh", check=False)

    def stage_paths(self, paths: list[str]) -> None:
        """`git add -A -f` exactly these paths into the user's index (deletions included)."""
        self.git("add", "-A", "-f", "--", *paths)

    def commit_paths(self, paths: list[str], message: str) -> str | None:
        """Commit the working-tree state of ``paths`` only, leaving every other staged change staged.

        Returns the new commit, or None when those paths did not change.
        """
        head = self.head_sha()
        with tempfile.TemporaryDirectory(prefix="appsync-index-") as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            if head:
                self.git("read-tree", head, env=env)
            self.git("add", "-A", "-f", "--", *paths, env=env)
            tree = self.git("write-tree", env=env).stdout.strip()
        if head and tree == self.tree_id(head):
            return None
        sha = self.commit_tree(tree, message, (head,) if head else ())
        self.update_ref("HEAD", sha, old=head or "", message=f"appsync: {message.splitlines()[0]}")
        self.stage_paths(paths)
        return sha

