"""VoIPbin's websocket, followed: subscribe, write each frame as a drop file, reconnect, recover.

From VoIPbin's code (voipbin/monorepo):
- bin-api-manager/models/hook/hook.go: the client sends `{"type": "subscribe", "topics": [...]}`;
  bin-api-manager/pkg/websockhandler/subscription.go `subscriptionHandleMessage` checks the
  topics (etc.go `validateTopics`: `customer_id:<the token's customer>:...`) and closes the
  connection on a bad one; there is no answer to a subscribe. It pings every 10 s and drops a
  peer silent for 60 s (pongWait), and subscriptions die with the connection.
- bin-api-manager/pkg/pubsubhandler/subscriber.go `deliver`: topics are prefixes, so
  `customer_id:<id>:campaign` also matches `customer_id:<id>:campaigncall:<cc id>`.
- bin-api-manager/pkg/subscribehandler/webhookmanager.go `createTopics`: each event is
  published on an old-form topic (`customer_id:<id>:<resource>:<resource id>`) and a new-form
  one (`customer_id:<id>:<service>:<event type>:<resource id>`); `deliver` runs once per topic,
  so a frame matched by both comes twice. The old path sends the envelope
  `{"type": ..., "data": {...}}`, the new one the raw resource: both are written as they come.
- bin-api-manager/lib/middleware/authenticate.go `getTokenString`: the token is read from the
  cookie, the `token` query parameter or `Authorization: Bearer`; it is sent here as the
  header so it never sits in a URL (proxies log URLs). A refused token: 401 before the upgrade.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import aiohttp

from store.dropwrite import MAX_BATCH, DropWriter, is_json_object, joined
from store.restsync import (
    ApiUnreachable,
    TokenRefused,
    VoipbinRest,
    api_root,
    backoff_seconds,
)
from store.timefmt import format_tm

log = logging.getLogger("campaigncalls.follow")

TOPICS = ("campaign", "call", "activeflow")  # campaign also covers campaigncall (a prefix)
RECONNECT_CAP_S = 30.0
RECONNECT_BASE_S = 0.5
# Recovery reads the campaigncalls created since this long before the connection dropped, so a
# call that was dialling when it dropped and ended while it was down is read again too.
RECOVER_MARGIN_S = 15 * 60.0
# A connection counts as good (the backoff starts again from its base) once a frame came or
# it lasted this long; one closed right after the subscribe keeps the backoff growing.
GOOD_CONNECTION_S = 30.0
HEARTBEAT_S = 30.0  # our own pings: a dead link is noticed within a minute
# While the disk is slow, this many frames may wait in memory before reading pauses.
MAX_QUEUED = 20_000

LinkKind = Literal["syncing", "connecting", "live", "reconnecting", "refused", "stopped"]


@dataclass(frozen=True)
class LinkState:
    """What the link is doing: for the header and the log. Times are time.time() seconds."""

    kind: LinkKind
    retry_at: float | None = None
    last_event_at: float | None = None
    detail: str = ""


def ws_url(api: str) -> str:
    """`https://host` -> `wss://host/v1.0/ws` (SPEC: the same host, ws or wss, /v1.0/ws)."""
    root = api_root(api)
    if root.startswith("https://"):
        root = "wss://" + root.removeprefix("https://")
    elif root.startswith("http://"):
        root = "ws://" + root.removeprefix("http://")
    return f"{root}/v1.0/ws"


def subscribe_message(customer_id: str) -> dict[str, Any]:
    """hook.Hook: `{"type": "subscribe", "topics": ["customer_id:<id>:campaign", ...]}`."""
    return {"type": "subscribe", "topics": [f"customer_id:{customer_id}:{t}" for t in TOPICS]}


def recovered_event(item: Any) -> bytes:
    """A campaigncall read from REST, as the event that would have carried it."""
    status = item.get("status") if isinstance(item, dict) else None
    kind = "campaigncall_created" if status == "dialing" else "campaigncall_updated"
    return json.dumps({"type": kind, "data": item}, ensure_ascii=False).encode("utf-8")


class FrameSpool:
    """Frames queued in arrival order and written by one task: those that wait share a file.

    A write that fails (disk full, folder gone) is retried with backoff, the frames kept in
    order in memory; reading pauses when too many wait.
    """

    def __init__(self, writer: DropWriter, on_problem: Callable[[str], None]) -> None:
        self.writer = writer
        self.on_problem = on_problem
        self._queue: list[tuple[bytes, bool]] = []  # (frame, must go in a file of its own)
        self._wake = asyncio.Event()
        self._room = asyncio.Event()
        self._room.set()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self.frames_written = 0
        self.files_written = 0

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def add(self, frame: bytes, *, alone: bool = False) -> None:
        """Queue a frame; `alone`: a whole drop file's content, written as it is."""
        await self._room.wait()
        self._queue.append((frame, alone or not is_json_object(frame)))
        self._wake.set()
        if len(self._queue) >= MAX_QUEUED:
            self._room.clear()

    async def close(self) -> None:
        """Write what is queued, then stop."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task

    def _take(self) -> list[bytes]:
        """The next file's frames: a run of JSON objects, or one item that must go alone."""
        first, alone = self._queue[0]
        if alone:
            return [first]
        count = 1
        limit = min(len(self._queue), MAX_BATCH)
        while count < limit and not self._queue[count][1]:
            count += 1
        return [frame for frame, _alone in self._queue[:count]]

    async def _run(self) -> None:
        failures = 0
        while True:
            if not self._queue:
                if self._closing:
                    return
                await self._wake.wait()
                self._wake.clear()
                continue
            batch = self._take()
            try:
                await asyncio.to_thread(self.writer.write, joined(batch))
            except OSError as error:
                wait = backoff_seconds(failures, cap=5.0)
                failures += 1
                self.on_problem(
                    f"frames cannot be written to {self.writer.drop_dir}"
                    f" ({error.strerror or error}); {len(self._queue)} kept, trying again"
                )
                await asyncio.sleep(wait)
                continue
            failures = 0
            del self._queue[: len(batch)]
            self.frames_written += len(batch)
            self.files_written += 1
            if len(self._queue) < MAX_QUEUED:
                self._room.set()


class Follower:
    """Follows one customer's events until stopped; raises TokenRefused if the token is refused."""

    def __init__(
        self,
        api: str,
        token: str,
        customer_id: str,
        drop_dir: Path,
        *,
        on_state: Callable[[LinkState], None] | None = None,
        on_problem: Callable[[str], None] | None = None,
        recover_margin_s: float = RECOVER_MARGIN_S,
        reconnect_cap_s: float = RECONNECT_CAP_S,
        reconnect_base_s: float = RECONNECT_BASE_S,
    ) -> None:
        self.api = api
        self._token = token
        self.customer_id = customer_id
        self.drop_dir = Path(drop_dir)
        self.on_state = on_state or (lambda state: None)
        self.on_problem = on_problem or (lambda text: log.warning("%s", text))
        self.recover_margin_s = recover_margin_s
        self.reconnect_cap_s = reconnect_cap_s
        self.reconnect_base_s = reconnect_base_s
        self.writer = DropWriter(self.drop_dir, "ws")
        self.last_event_at: float | None = None
        self.connections = 0
        self.frames_read = 0
        self.recovered = 0
        self._spool: FrameSpool | None = None

    @property
    def frames_on_disk(self) -> int:
        """Frames (and recovered files) written so far, since run() started."""
        return self._spool.frames_written if self._spool is not None else 0

    def __repr__(self) -> str:  # never the token
        return f"Follower(api={self.api!r}, customer_id={self.customer_id!r})"

    def _state(self, kind: LinkKind, retry_at: float | None = None, detail: str = "") -> None:
        self.on_state(LinkState(kind, retry_at, self.last_event_at, detail))

    async def run(self, stop: asyncio.Event) -> None:
        spool = self._spool = FrameSpool(self.writer, self.on_problem)
        spool.start()
        try:
            await self._follow(stop, spool)
        finally:
            await spool.close()
            self._state("stopped")

    async def _follow(self, stop: asyncio.Event, spool: FrameSpool) -> None:
        headers = {"Authorization": f"Bearer {self._token}"}
        attempt = 0
        dropped_at: datetime | None = None  # when the last live connection was lost
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                self._state("connecting")
                problem = ""
                try:
                    async with session.ws_connect(
                        ws_url(self.api),
                        headers=headers,
                        heartbeat=HEARTBEAT_S,
                        autoping=True,
                        max_msg_size=16 * 1024 * 1024,
                        timeout=aiohttp.ClientWSTimeout(ws_close=5),
                    ) as ws:
                        await ws.send_json(subscribe_message(self.customer_id))
                        self.connections += 1
                        opened, frames_before = time.monotonic(), self.frames_read
                        self._state("live")
                        if dropped_at is not None:
                            await self._recover(session, dropped_at, spool)
                            dropped_at = None
                        problem = await self._read(ws, stop, spool)
                        if stop.is_set():
                            return
                        dropped_at = datetime.now(UTC)
                        if self.frames_read > frames_before:
                            attempt = 0
                        elif time.monotonic() - opened >= GOOD_CONNECTION_S:
                            attempt = 0
                        else:  # subscription.go closes on topics not of the token's customer
                            problem += (
                                " right after the subscribe, before any event; is"
                                f" {self.customer_id} the token's customer?"
                            )
                except aiohttp.WSServerHandshakeError as error:
                    if error.status in (401, 403):
                        self._state("refused", detail=str(TokenRefused(error.status)))
                        raise TokenRefused(error.status) from None
                    problem = f"VoIPbin refused the websocket ({error.status})"
                except TokenRefused as error:  # from the recovery's REST reads
                    self._state("refused", detail=str(error))
                    raise
                except ApiUnreachable as error:
                    problem = f"missed campaigncalls could not be read yet ({error})"
                    dropped_at = dropped_at or datetime.now(UTC)
                except (aiohttp.ClientError, TimeoutError, OSError) as error:
                    problem = f"VoIPbin's websocket cannot be reached ({_reason(error)})"
                if stop.is_set():
                    return
                wait = backoff_seconds(attempt, self.reconnect_base_s, self.reconnect_cap_s)
                attempt += 1
                self._state("reconnecting", time.time() + wait, problem)
                self.on_problem(f"{problem}; connecting again in {wait:.1f} s")
                try:
                    await asyncio.wait_for(stop.wait(), wait)
                except TimeoutError:
                    pass

    async def _read(self, ws: aiohttp.ClientWebSocketResponse, stop: asyncio.Event,
                    spool: FrameSpool) -> str:  # fmt: skip
        """Queue each frame until the connection ends (its reason) or `stop` is set."""
        stopping = asyncio.ensure_future(stop.wait())
        try:
            while True:
                receiving = asyncio.ensure_future(ws.receive())
                await asyncio.wait({receiving, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping.done():
                    receiving.cancel()
                    await ws.close()
                    return "stopped"
                message = receiving.result()
                if message.type == aiohttp.WSMsgType.TEXT:
                    await spool.add(message.data.encode("utf-8", "surrogatepass"))
                elif message.type == aiohttp.WSMsgType.BINARY:
                    await spool.add(message.data)
                elif message.type in (
                    aiohttp.WSMsgType.CLOSE,
                    aiohttp.WSMsgType.CLOSING,
                    aiohttp.WSMsgType.CLOSED,
                ):
                    code = ws.close_code
                    return f"VoIPbin closed the websocket (code {code})"
                elif message.type == aiohttp.WSMsgType.ERROR:
                    return f"the websocket broke ({_reason(ws.exception() or OSError())})"
                else:
                    continue
                self.frames_read += 1
                self.last_event_at = time.time()
                self._state("live")
        finally:
            stopping.cancel()

    async def _recover(
        self, session: aiohttp.ClientSession, dropped_at: datetime, spool: FrameSpool
    ) -> None:
        """After a reconnect (subscribed again first): campaigncalls created since shortly
        before the drop, read from REST, as drop files after the frames already queued."""
        since = format_tm(dropped_at - timedelta(seconds=self.recover_margin_s))
        rest = VoipbinRest(session, self.api, self._token, self.on_problem)
        items = [item async for item in rest.items("campaigncalls", since=since)]
        items.reverse()  # oldest first, as they happened
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            # behind the frames already queued, through the same writer: names keep the order
            array = b"[\n" + b",\n".join(map(recovered_event, chunk)) + b"\n]\n"
            await spool.add(array, alone=True)
        self.recovered += len(items)


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text.splitlines()[0][:200]
