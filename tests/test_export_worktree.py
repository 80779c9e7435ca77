"""The working-tree update of an export: only changed files move, and the undo restores everything."""

from __future__ import annotations

from pathlib import Path

from structr_appsync.sync.worktree import apply_changes, swap_in


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def snapshot(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_apply_changes_moves_only_changed_files_and_undo_restores(tmp_path: Path) -> None:
    target, new, backup = tmp_path / "webapp", tmp_path / "new", tmp_path / "backup"
    old_files = {"pages/a.html": "a", "pages/b.html": "b", "files/x": "file x", "files/d/y": "y", "keep.json": "k"}
    new_files = {
        "pages/a.html": "a",
        "pages/b.html": "B!",
        "files/x/inner": "x is a folder now",
        "files/d": "d is a file",
        "keep.json": "k",
        "pages/c.html": "c",
    }
    write(target, old_files)
    write(new, new_files)
    unchanged_inode = (target / "pages" / "a.html").stat().st_ino
    changes = [("M", "pages/b.html"), ("D", "files/x"), ("A", "files/x/inner"), ("D", "files/d/y"), ("A", "files/d"),
               ("A", "pages/c.html")]  # fmt: skip
    undo = apply_changes(target, new, changes, backup)
    assert snapshot(target) == new_files
    assert (target / "pages" / "a.html").stat().st_ino == unchanged_inode
    undo()
    assert snapshot(target) == old_files
    assert (target / "pages" / "a.html").stat().st_ino == unchanged_inode


def test_swap_in_keeps_ignored_files_and_undo_restores(tmp_path: Path) -> None:
    target, new, aside = tmp_path / "webapp", tmp_path / "new", tmp_path / "aside"
    write(target, {"pages/a.html": "old", "pages/.a.html.swp": "editor"})
    write(new, {"pages/a.html": "new", "pages/b.html": "b"})
    undo = swap_in(target, new, aside, keep=[Path("pages/.a.html.swp")])
    assert snapshot(target) == {"pages/.a.html.swp": "editor", "pages/a.html": "new", "pages/b.html": "b"}
    undo()
    assert snapshot(target) == {"pages/.a.html.swp": "editor", "pages/a.html": "old"}
    assert snapshot(new) == {"pages/a.html": "new", "pages/b.html": "b"}
