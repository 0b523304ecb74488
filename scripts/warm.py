"""Warm a started dashboard: run its script once, headless, before anyone is told its URL.

A Streamlit server imports the app (services, pandas, plotly, the authenticator ...) on the first script
run of its first session, so the first visitor after a start waited 8.7 s for the sign-in form and the
second 3.3 s. `run_once` opens a session as the browser does (the `_stcore/stream` websocket, a
`rerun_script` message) and waits for the run to finish; the session then closes. The browser's own
load (the static JavaScript) stays for the visitor.

    python scripts/warm.py http://127.0.0.1:8501
"""
from __future__ import annotations

import asyncio
import sys

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

TIMEOUT = 120.0


async def _run(ws_url: str) -> int:
    async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None, open_timeout=30) as ws:
        msg = BackMsg()
        msg.rerun_script.query_string = ""  # the default page: sign-in, for a session with no cookie
        await ws.send(msg.SerializeToString())
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await ws.recv())
            if fwd.WhichOneof("type") == "script_finished":
                return fwd.script_finished


def run_once(base_url: str, timeout: float = TIMEOUT) -> str | None:
    """Run the dashboard's script once at `base_url`. None when it finished, else what went wrong."""
    ws_url = base_url.replace("http://", "ws://", 1).rstrip("/") + "/_stcore/stream"
    try:
        status = asyncio.run(asyncio.wait_for(_run(ws_url), timeout))
    except (OSError, asyncio.TimeoutError, websockets.WebSocketException) as exc:
        return f"{type(exc).__name__}: {exc}"
    if status != ForwardMsg.FINISHED_SUCCESSFULLY:
        return f"the script ended with {ForwardMsg.ScriptFinishedStatus.Name(status)}"
    return None


if __name__ == "__main__":
    problem = run_once(sys.argv[1])
    print(problem or "warm")
    sys.exit(1 if problem else 0)
