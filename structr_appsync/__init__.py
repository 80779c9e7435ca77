"""structr-appsync: Structr application versioning, safe re-import and cold backups."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("structr-appsync")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
