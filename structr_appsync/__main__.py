"""Entry point for ``python -m structr_appsync`` (what installed git hooks run)."""

from __future__ import annotations

from structr_appsync.entry import run

run()
