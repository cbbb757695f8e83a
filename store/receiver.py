"""VoIPbin's webhook receiver: each checked POST or PUT body lands durably in the drop folder.

What VoIPbin sends, from its code (voipbin/monorepo):
- bin-webhook-manager/pkg/webhookhandler/message.go: `sendMessage` uses the customer's
  webhook_method and URI, sets `X-VoIPBIN-Signature: sha256=<hex HMAC-SHA256(secret, body)>`
  when the account has a secret (`computeSignature`), and tries 3 times, 1 s apart, on a
  network error or a status >= 500; any other status ends the delivery. So a 503 here gets
  the event sent again, and a 4xx (401, 400, 413) is final.
- bin-webhook-manager/pkg/webhookhandler/webhook.go: the body is the envelope
  `{"type": ..., "data": {...}}`, Content-Type application/json.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from store.dropwrite import MAX_BATCH, DropWriter, joined
from store.text import visible

log = logging.getLogger("campaigncalls.receive")

SECRET_ENV = "VOIPBIN_WEBHOOK_SECRET"
MAX_BODY = 1024 * 1024  # issue 9: a body over 1 MiB is refused with 413
SIGNATURE_HEADER = "X-VoIPBIN-Signature"  # webhookhandler/message.go signatureHeader
HEALTH_PATH = "/healthz"
ACCEPTED_METHODS = ("POST", "PUT")


def signature_for(secret: str, body: bytes) -> str:
    """The header value VoIPbin sends (webhookhandler/message.go computeSignature)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signature_is_good(secret: str, body: bytes, header: str | None) -> bool:
    """Checked in constant time; a missing header is as bad as a wrong one."""
    if header is None:
        return False
    expected = signature_for(secret, body).encode("ascii")
    given = header.strip().encode("utf-8", "surrogateescape")
    return hmac.compare_digest(expected, given)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name other than localhost may resolve anywhere


@dataclass
class _Pending:
    body: bytes
    done: asyncio.Future[None]


@dataclass
class BatchedDropWriter:
    """Bodies that arrive together share one drop file and one fsync (group commit).

    `put` returns once the body is on disk, or raises the OSError that kept it off.
    """

    writer: DropWriter
    max_batch: int = MAX_BATCH
    _queue: list[_Pending] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _task: asyncio.Task[None] | None = None
    _closing: bool = False

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    async def put(self, body: bytes, *, alone: bool = False) -> None:
        if alone:  # an array body keeps its own file (a drop file is one array, not nested)
            await asyncio.to_thread(self.writer.write, body)
            return
        pending = _Pending(body, asyncio.get_running_loop().create_future())
        self._queue.append(pending)
        self._wake.set()
        await pending.done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    await asyncio.to_thread(self.writer.write, joined([p.body for p in batch]))
                except OSError as error:
                    for p in batch:
                        if not p.done.done():
                            p.done.set_exception(error)
                    continue
                for p in batch:
                    if not p.done.done():
                        p.done.set_result(None)
            if self._closing:
                return


def _one_line(request: web.Request, status: int, size: int, started: float, note: str) -> str:
    # the path without its query: a query may carry something secret
    ms = (time.perf_counter() - started) * 1000
    peer = request.remote or "-"
    path = visible(request.path)  # the sender chooses it: no escape codes reach a terminal
    text = f"{peer} {request.method} {path} {status} {size} bytes {ms:.1f} ms"
    return f"{text} ({note})" if note else text


def receiver_app(
    drop_dir: Path,
    secret: str | None,
    *,
    log_line: Callable[[str], None] | None = None,
    on_accepted: Callable[[], None] | None = None,
) -> web.Application:
    """The aiohttp application: POST/PUT anywhere but /healthz, GET /healthz answers 200."""
    writer = BatchedDropWriter(DropWriter(drop_dir, "webhook"))
    say = log_line or log.info

    async def handle(request: web.Request) -> web.Response:
        started = time.perf_counter()
        status, note, size = await _receive(request)
        say(_one_line(request, status, size, started, note))
        if status == 200 and on_accepted is not None:
            on_accepted()
        body = "accepted\n" if status == 200 else f"{note}\n"
        headers = {"Allow": "GET, POST, PUT"} if status == 405 else None
        return web.Response(status=status, text=body, headers=headers)

    async def _receive(request: web.Request) -> tuple[int, str, int]:
        if request.path == HEALTH_PATH:
            if request.method in ("GET", "HEAD"):
                return 200, "", 0
            return 405, f"{HEALTH_PATH} answers GET only", 0
        if request.method not in ACCEPTED_METHODS:
            return 405, f"{request.method} is not accepted: set VoIPbin's webhook_method to POST", 0
        if request.content_length is not None and request.content_length > MAX_BODY:
            return 413, f"the body is over {MAX_BODY} bytes", request.content_length
        try:
            body = await request.read()
        except web.HTTPRequestEntityTooLarge:
            return 413, f"the body is over {MAX_BODY} bytes", MAX_BODY
        if secret is not None and not signature_is_good(
            secret, body, request.headers.get(SIGNATURE_HEADER)
        ):
            missing = SIGNATURE_HEADER not in request.headers
            return 401, f"{SIGNATURE_HEADER} is {'missing' if missing else 'wrong'}", len(body)
        try:
            document = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError as error:
            return 400, f"the body is not UTF-8 (bad byte at offset {error.start})", len(body)
        except json.JSONDecodeError as error:
            return 400, f"the body is not JSON: {error.msg} at line {error.lineno}", len(body)
        except RecursionError:
            return 400, "the body is JSON nested too deeply", len(body)
        if not isinstance(document, dict | list) or document == []:
            return 400, "the body is not a JSON object (an event) or an array of them", len(body)
        try:
            await writer.put(body, alone=isinstance(document, list))
        except OSError as error:
            reason = error.strerror or str(error)
            return 503, f"the drop folder cannot be written ({reason}); send again", len(body)
        return 200, "", len(body)

    async def start_writer(_app: web.Application) -> None:
        writer.start()

    async def close_writer(_app: web.Application) -> None:
        await writer.close()

    app = web.Application(client_max_size=MAX_BODY)
    app.on_startup.append(start_writer)
    app.on_cleanup.append(close_writer)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


async def run_receiver(
    drop_dir: Path,
    host: str,
    port: int,
    secret: str | None,
    stop: asyncio.Event,
    *,
    log_line: Callable[[str], None] | None = None,
    on_listening: Callable[[str, int], None] | None = None,
    on_accepted: Callable[[], None] | None = None,
) -> None:
    """Serve until `stop` is set; requests under way are finished before it returns."""
    app = receiver_app(drop_dir, secret, log_line=log_line, on_accepted=on_accepted)
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    try:
        await site.start()
        if on_listening is not None:
            bound = runner.addresses[0] if runner.addresses else (host, port)
            on_listening(str(bound[0]), int(bound[1]))
        await stop.wait()
    finally:
        await runner.cleanup()
