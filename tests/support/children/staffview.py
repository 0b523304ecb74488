"""The staff views' keeper as a child process: the worker's step over and over, to be SIGKILLed at random."""
from __future__ import annotations

from services import staffview
from services.staffview import batches
from tests.support.targets import open_spec


def keep_forever(spec: dict, passes) -> None:
    """Run the worker's step in a loop; `passes` (a shared counter) counts the finished ones."""
    batches.BATCH = 2  # many small batches: a kill lands inside one more often
    db = open_spec(spec)
    while True:
        staffview.keep(db)
        with passes.get_lock():
            passes.value += 1
