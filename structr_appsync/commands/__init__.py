"""One module per CLI verb: parse-side registration, typed run functions, and what the user sees."""

from __future__ import annotations
