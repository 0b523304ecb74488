"""Files only this user may read: the data folder is 0700 and every file in it 0600.

The data folder holds password hashes, the ledger and the cookie key. The SQLite file is made 0600 before
SQLite opens it, and SQLite gives its -wal and -shm files the mode of the database file.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path

PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def private_dir(path: str | os.PathLike) -> Path:
    """`path`, created if missing and made 0700 - unless it is a shared sticky folder such as /tmp,
    which is left alone (what goes into it is 0600 all the same)."""
    p = Path(path)
    p.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    mode = p.stat().st_mode
    if not (mode & stat.S_ISVTX and mode & stat.S_IWOTH) and stat.S_IMODE(mode) != PRIVATE_DIR:
        p.chmod(PRIVATE_DIR)
    return p


def write_private(path: str | os.PathLike, text: str) -> None:
    """Write `text` to a file only this user may read or write: 0600 from its first byte."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.fchmod(fd, PRIVATE_FILE)  # a file that existed keeps its old mode through os.open
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)


def private_sqlite(path) -> None:
    """Create the SQLite file 0600 before SQLite opens it (its -wal and -shm take the same mode), and
    fix the mode of any of them made before this rule (and of the writer lock file beside them)."""
    path = str(path)
    if path == ":memory:" or path.startswith("file:"):
        return
    # Never open and close a file that exists: closing any descriptor of a file drops every POSIX lock
    # this process holds on it, SQLite's included (sqlite.org/howtocorrupt.html, 2.2). A process opening
    # its second connection did exactly that, and another process's checkpoint then truncated pages
    # under a live reader ("disk I/O error", SQLITE_IOERR_SHORT_READ, after a SIGKILL test's restarts).
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, PRIVATE_FILE))
    except FileExistsError:
        pass
    # -writer and -indexes: the lock files of services.engine
    for p in (path, path + "-wal", path + "-shm", path + "-writer", path + "-indexes"):
        try:
            if stat.S_IMODE(os.stat(p).st_mode) != PRIVATE_FILE:
                os.chmod(p, PRIVATE_FILE)
        except FileNotFoundError:
            pass
