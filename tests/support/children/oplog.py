"""The intent/ack log a stream that is killed at random keeps: one JSON record a line, flushed and fsynced
before the step it announces and after the step it acknowledges. On restart the stream reads it to find
the last step begun and not acknowledged (and repeats it); a line torn by a kill is skipped."""
from __future__ import annotations

import json
import os


def write(log, rec: dict) -> None:
    log.write(json.dumps(rec) + "\n")
    log.flush()
    os.fsync(log.fileno())


def records(path: str):
    """Every whole record of the log, in order (none if it does not exist yet)."""
    if not os.path.exists(path):
        return
    for line in open(path):
        try:
            yield json.loads(line)
        except ValueError:
            continue  # a line torn by the kill


def acks(path: str) -> int:
    """How many steps the stream has acknowledged so far (cheap enough to poll: no parsing)."""
    try:
        with open(path, "rb") as f:
            return f.read().count(b'{"ack"')
    except FileNotFoundError:
        return 0
