"""services/db.py `_private_sqlite`: opening another connection never drops this process's SQLite locks."""
from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys

from services import db as dbmod


_PROBE = """
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    c.execute("BEGIN IMMEDIATE")
    print("took it")
except sqlite3.OperationalError:
    print("locked")
"""


def test_opening_another_connection_keeps_this_process_sqlite_locks(tmp_path):
    path = str(tmp_path / "l.sqlite")
    dbmod._private_sqlite(path)
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")  # this process now holds SQLite's write lock (a POSIX lock)
    dbmod._private_sqlite(path)  # what every new engine connection runs first
    probe = subprocess.run([sys.executable, "-c", _PROBE, path], capture_output=True, text=True, timeout=60)
    holder.rollback()
    holder.close()
    assert probe.stdout.strip() == "locked", probe.stderr
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
