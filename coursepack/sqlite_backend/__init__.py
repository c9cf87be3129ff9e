"""SQLite with writers that queue fairly (see base.py)."""
