"""What a child would otherwise import on its first open of the embedded engine: mongoeco loads its
client and its SQLite engine lazily (~0.7 s). The forkserver (tests/support/processes.py) imports this
module once, before it forks any child."""
from __future__ import annotations

import mongoeco.engines.sqlite  # noqa: F401  (each import here is only there to be done ahead)
import usearch.index  # noqa: F401
from mongoeco import MongoClient  # noqa: F401

import services.db  # noqa: F401
import services.engine  # noqa: F401
