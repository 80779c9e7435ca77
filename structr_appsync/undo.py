"""An undo stack for transactions: each step records how to take it back; a failure takes them all back."""

from __future__ import annotations

import contextlib
from types import TracebackType


class UndoStack(contextlib.ExitStack):
    """An `ExitStack` of undos: when the block fails they run newest first (each one even if a later one
    failed, as ExitStack does); when it succeeds they are dropped."""

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        if exc_type is None:
            self.pop_all()
            return False
        return bool(super().__exit__(exc_type, exc, traceback))
