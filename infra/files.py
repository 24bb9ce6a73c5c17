"""Private files of the embedded mode: a directory 0700, files 0600 (issue 11).

SQLite creates a database's `-wal` and `-shm` files with the database file's own mode, so a
database file made here private keeps its journals private too.
"""

from __future__ import annotations

import os
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | Path) -> Path:
    """`path` created if absent, and made 0700 (only the owner lists or enters it)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
    if path.stat().st_mode & 0o777 != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """`path` created empty if absent (0600, in a private directory), or made 0600."""
    path = Path(path)
    private_dir(path.parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        if path.stat().st_mode & 0o777 != FILE_MODE:
            path.chmod(FILE_MODE)
    return path
