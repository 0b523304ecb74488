"""A local SMTP sink: takes every e-mail it is sent, delivers none, and shows them over HTTP.

`make run` starts it when no SMTP server is configured (like the Razorpay sandbox stands in for
Razorpay), points the worker's alert e-mails at it, and the admin page "Alerts" shows what it received.
A real SMTP server (aiosmtpd) on 127.0.0.1; each message is kept as a `.eml` file in `--dir` (so it
outlives a restart) and listed by a small HTTP endpoint:

    GET /            the received messages, newest first (HTML)
    GET /health      {"ok": true, "messages": N}
    GET /messages    JSON: id, received_at, mail_from, rcpt_tos, subject, message_id, text
    GET /messages/<id>.eml   the raw message

The folder is 0700 and every file in it 0600, as everything in the data folder (services/db.py: the
messages are customers' alerts); a folder or files left with other modes by an older run are fixed at
start. Ports 0 (the default) take free ones, so two copies on one machine never collide; with
`--ports-fd N` the sink writes `{"smtp": port, "http": port}` to that descriptor once it listens
(scripts/run.py reads where it is from there).

Run:  python -m sandbox.smtp_sink [--smtp-port P] [--http-port P] [--dir data/smtp_sink] [--ports-fd N]
"""
from __future__ import annotations

import argparse
import email
import email.policy
import html
import json
import os
import socket
import stat
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from aiosmtpd.controller import Controller

MAX_LISTED = 500
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600  # services.db's modes (the sandbox stands alone: no import)


class Store:
    """Received messages: in memory, and as files when given a folder."""

    def __init__(self, folder: Path | None = None):
        self.folder = folder
        self.lock = threading.Lock()
        self.items: list[dict] = []
        if folder is not None:
            _private(folder)
            for path in sorted(folder.glob("*.eml")):
                meta = path.with_suffix(".json")
                env = json.loads(meta.read_text()) if meta.exists() else {}
                self.items.append(_describe(path.stem, path.read_bytes(), env))

    def add(self, raw: bytes, mail_from: str, rcpt_tos: list[str]) -> dict:
        with self.lock:
            mid = f"{int(time.time() * 1000):013d}-{len(self.items) + 1:05d}"
            env = {"mail_from": mail_from, "rcpt_tos": rcpt_tos, "received_at": time.time()}
            if self.folder is not None:
                _write_private(self.folder / f"{mid}.json", json.dumps(env).encode())
                _write_private(self.folder / f"{mid}.eml", raw)
            item = _describe(mid, raw, env)
            self.items.append(item)
            return item

    def listed(self) -> list[dict]:
        with self.lock:
            return [{k: v for k, v in m.items() if k != "raw"} for m in self.items[::-1][:MAX_LISTED]]

    def raw(self, mid: str) -> bytes | None:
        with self.lock:
            return next((m["raw"] for m in self.items if m["id"] == mid), None)


def _private(folder: Path) -> None:
    """The folder 0700 and what is in it 0600, whatever an older run or the umask left."""
    folder.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    folder.chmod(PRIVATE_DIR)
    for path in folder.iterdir():
        if path.is_file() and stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE:
            path.chmod(PRIVATE_FILE)


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)  # 0600 from the first byte
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _describe(mid: str, raw: bytes, env: dict) -> dict:
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    body = msg.get_body(preferencelist=("plain", "html"))
    return {"id": mid, "received_at": env.get("received_at"), "mail_from": env.get("mail_from", ""),
            "rcpt_tos": env.get("rcpt_tos", []), "subject": str(msg.get("Subject", "")),
            "message_id": str(msg.get("Message-ID", "")), "to": str(msg.get("To", "")),
            "text": body.get_content()[:20_000] if body is not None else "", "raw": raw}


class _Handler:
    def __init__(self, store: Store):
        self.store = store

    async def handle_DATA(self, server, session, envelope):
        self.store.add(envelope.original_content or envelope.content, envelope.mail_from,
                       list(envelope.rcpt_tos))
        return "250 Message accepted (sink: not delivered)"


def _http_handler(store: Store):
    class H(BaseHTTPRequestHandler):
        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/health":
                return self._send(200, "application/json", json.dumps({"ok": True, "messages": len(store.items)}))
            if path == "/messages":
                return self._send(200, "application/json", json.dumps(store.listed()))
            if path.startswith("/messages/") and path.endswith(".eml"):
                raw = store.raw(path[len("/messages/"):-len(".eml")])
                if raw is None:
                    return self._send(404, "text/plain", "no such message")
                return self._send(200, "message/rfc822", raw)
            if path == "/":
                return self._send(200, "text/html; charset=utf-8", _page(store.listed()))
            return self._send(404, "text/plain", "not found")

        def _send(self, code: int, ctype: str, body):
            data = body if isinstance(body, bytes) else body.encode()
            self.send_response(code)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass
    return H


def _page(items: list[dict]) -> str:
    rows = "".join(f"<tr><td>{html.escape(time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(m['received_at'] or 0)))}"
                   f"</td><td>{html.escape(m['to'])}</td><td><a href='/messages/{m['id']}.eml'>"
                   f"{html.escape(m['subject'])}</a></td></tr>" for m in items)
    return ("<!doctype html><title>SMTP sink</title><h1>SMTP sink: e-mails received (none delivered)</h1>"
            f"<p>{len(items)} message(s). JSON at <a href='/messages'>/messages</a>.</p>"
            f"<table border=1 cellpadding=4><tr><th>UTC</th><th>To</th><th>Subject</th></tr>{rows}</table>")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class SinkHandle:
    """A running sink: `smtp_port`, `url` (HTTP), `store`; `stop()` ends both servers."""
    smtp_port: int
    url: str
    store: Store
    _controller: Controller
    _http: ThreadingHTTPServer

    def messages(self) -> list[dict]:
        return self.store.listed()[::-1]  # oldest first, for tests

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._controller.stop()


def start(smtp_port: int = 0, http_port: int = 0, folder: Path | None = None) -> SinkHandle:
    """Start the SMTP server and its HTTP endpoint on 127.0.0.1 (port 0: a free one) in threads."""
    store = Store(folder)
    for attempt in range(5):
        # aiosmtpd cannot listen on port 0 itself: a free port, and another if someone took it meanwhile
        controller = Controller(_Handler(store), hostname="127.0.0.1", port=smtp_port or free_port())
        try:
            controller.start()
            break
        except (OSError, RuntimeError):
            if smtp_port or attempt == 4:
                raise
    httpd = ThreadingHTTPServer(("127.0.0.1", http_port), _http_handler(store))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return SinkHandle(controller.port, f"http://127.0.0.1:{httpd.server_address[1]}", store, controller, httpd)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smtp-port", type=int, default=0, help="0: a free one")
    ap.add_argument("--http-port", type=int, default=0, help="0: a free one")
    ap.add_argument("--dir", default=None)
    ap.add_argument("--ports-fd", type=int, default=None, help="write the ports taken there, as JSON")
    args = ap.parse_args()
    h = start(args.smtp_port, args.http_port, Path(args.dir) if args.dir else None)
    print(f"smtp sink: SMTP on 127.0.0.1:{h.smtp_port}, messages at {h.url}/", flush=True)
    if args.ports_fd is not None:
        with os.fdopen(args.ports_fd, "w") as f:
            f.write(json.dumps({"smtp": h.smtp_port, "http": int(h.url.rsplit(":", 1)[1])}) + "\n")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        h.stop()


if __name__ == "__main__":
    main()
