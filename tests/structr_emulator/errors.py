"""Exceptions that map to Structr's HTTP error replies."""

from __future__ import annotations


class FrameworkError(Exception):
    """A FrameworkException: answered with its status and {"code","message","errors"}."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
