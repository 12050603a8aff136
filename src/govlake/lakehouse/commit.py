"""What one write did."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Commit:
    """One write's outcome. committed=False: the app transaction was already in the log."""

    table: str
    version: int
    rows_written: int
    files_added: int
    files_removed: int
    committed: bool
