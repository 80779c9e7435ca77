"""A Structr emulator for appsync's tests: real HTTP, real state on disk, Structr's deployment formats."""

from __future__ import annotations
