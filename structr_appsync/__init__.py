"""structr-appsync: Structr application versioning, safe re-import and cold backups."""

from __future__ import annotations

# Nothing is imported here: the entry point must be running (and catching Ctrl-C) before any real work starts, and
# every `appsync` run pays for what this file loads. `__version__` is looked up on first use.


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module 'structr_appsync' has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("structr-appsync")
    except PackageNotFoundError:  # running from a source tree that was never installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
