"""Fixtures of the HTTP API tests."""

from __future__ import annotations
