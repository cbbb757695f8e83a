"""A local aiohttp server that speaks as VoIPbin: paged REST lists and the event websocket.

Its behaviour follows VoIPbin's code (voipbin/monorepo), not its docs:
- bin-api-manager/server/campaigncalls.go (and campaigns.go, outplans.go, outdials.go):
  page_size 1..100 (else 100), page_token = the last item's tm_create as
  `2006-01-02T15:04:05.000000Z`, empty only with an empty result (server/main.go
  GenerateListResponse); bin-campaign-manager/pkg/dbhandler/campaigncall.go: `tm_create <
  token`, newest first.
- bin-api-manager/lib/middleware/authenticate.go: the token from the `token` cookie, the
  `token` query parameter or `Authorization: Bearer`; otherwise 401.
- bin-api-manager/pkg/websockhandler/subscription.go: the client's text messages are
  hook.Hook `{"type": "subscribe"|"unsubscribe", "topics": [...]}`; a topic not of the token's
  customer (etc.go validateTopics) closes the connection; nothing is sent before a subscribe.

The records are built by store/wire.py, in VoIPbin's wire format (its WebhookMessage structs
as Go's encoding/json writes them).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import WSMsgType, web

from store import wire

NIL = "00000000-0000-0000-0000-000000000000"
CUSTOMER = "5e4a0680-804e-11ec-8477-2fea5968d85b"
TOKEN = "tok-Zq8v3T7u-secret-0123456789abcdef"


# ---- VoIPbin's wire format: store/wire.py's builders, with the few fields these tests vary ----


def wire_campaigncall(
    *,
    ident: str | None = None,
    campaign_id: str,
    outplan_id: str,
    outdial_id: str,
    target_id: str,
    reference_id: str | None = None,
    status: str = "dialing",
    result: str = "",
    index: int = 0,
    tries: int = 1,
    created: datetime,
    updated: datetime | None = None,
) -> dict[str, Any]:
    """bin-campaign-manager/models/campaigncall/webhook.go WebhookMessage."""
    return wire.campaigncall(
        id=ident or str(uuid.uuid4()),
        customer_id=CUSTOMER,
        campaign_id=campaign_id,
        outplan_id=outplan_id,
        outdial_id=outdial_id,
        outdial_target_id=target_id,
        activeflow_id=str(uuid.uuid4()),
        reference_id=reference_id or str(uuid.uuid4()),
        status=status,
        result=result,
        source=wire.address("tel", "+15550100001"),
        destination=wire.address("tel", "+15550100002"),
        destination_index=index,
        try_count=tries,
        tm_create=created,
        tm_update=updated,
    )


def wire_outdialtarget(
    *, ident: str, outdial_id: str, tries: tuple[int, ...] = (0,), created: datetime
) -> dict[str, Any]:
    """bin-outdial-manager/models/outdialtarget/webhook.go WebhookMessage."""
    return wire.outdialtarget(
        id=ident,
        outdial_id=outdial_id,
        name="target",
        destinations=[wire.address("tel", f"+1555010{slot:04d}") for slot in range(len(tries))],
        try_counts=tuple(tries) + (0,) * (5 - len(tries)),
        tm_create=created,
        tm_update=created,
    )


def wire_campaign(
    *, ident: str, outplan_id: str, outdial_id: str, created: datetime
) -> dict[str, Any]:
    return wire.campaign(
        id=ident, customer_id=CUSTOMER, outplan_id=outplan_id, outdial_id=outdial_id,
        tm_create=created, tm_update=created, name="renewals", status="run",
    )  # fmt: skip


def wire_outplan(*, ident: str, created: datetime, max_tries: int = 3) -> dict[str, Any]:
    return wire.outplan(
        id=ident, customer_id=CUSTOMER, tm_create=created, tm_update=created, name="plan",
        source=wire.address("tel", "+15550100001"), max_try_counts=(max_tries,) * 5,
    )  # fmt: skip


def wire_outdial(*, ident: str, created: datetime) -> dict[str, Any]:
    return wire.outdial(id=ident, customer_id=CUSTOMER, tm_create=created, tm_update=created,
                        name="list")  # fmt: skip


wire_time = wire.wire_time
envelope = wire.envelope


# ---- the server -----------------------------------------------------------------------------


@dataclass
class Fault:
    path: str  # the request path it answers, e.g. /v1.0/campaigncalls
    status: int
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    at: float  # time.monotonic()
    path: str
    query: dict[str, str]
    status: int
    token_in_url: bool


class FakeVoipbin:
    """VoIPbin's REST and websocket for one customer, with faults and frames set by the test."""

    def __init__(self, token: str = TOKEN, customer_id: str = CUSTOMER) -> None:
        self.token = token
        self.customer_id = customer_id
        self.lists: dict[str, list[dict[str, Any]]] = {}
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        # one list of actions per websocket connection: ("send", text) or ("drop",)
        self.ws_scripts: list[list[tuple[Any, ...]]] = []
        self.subscribes: list[dict[str, Any]] = []  # each subscribe message, in order
        self.ws_connections = 0
        self.ws_refused = 0
        self.ws_token_in_url = False
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- the test's side

    def set_list(self, path: str, items: list[dict[str, Any]]) -> None:
        """Items of a list (`campaigncalls`, `outdials/<id>/targets`, ...), served newest first."""
        self.lists[f"/v1.0/{path}"] = sorted(items, key=lambda i: (i["tm_create"], i["id"]),
                                             reverse=True)  # fmt: skip

    def add_to_list(self, path: str, item: dict[str, Any]) -> None:
        self.set_list(path, [*self.lists.get(f"/v1.0/{path}", []), item])

    # -- the server's side

    def _token_of(self, request: web.BaseRequest) -> tuple[str, bool]:
        """authenticate.go getTokenString: cookie, then query, then Authorization: Bearer."""
        if request.cookies.get("token"):
            return request.cookies["token"], False
        if request.query.get("token"):
            return request.query["token"], True
        header = request.headers.get("Authorization", "")
        parts = header.split("Bearer ")
        return (parts[1] if len(parts) >= 2 else ""), False

    async def _list(self, request: web.Request) -> web.Response:
        token, in_url = self._token_of(request)
        path = request.path
        status, response = 200, None
        for fault in self.faults:
            if fault.path == path:
                self.faults.remove(fault)
                status = fault.status
                response = web.json_response({"error": "fault"}, status=fault.status,
                                             headers=fault.headers)  # fmt: skip
                break
        if response is None and token != self.token:
            status = 401
            response = web.json_response(
                {"code": "UNAUTHENTICATED", "message": "The provided credentials are invalid."},
                status=401,
            )
        if response is None:
            try:
                size = int(request.query.get("page_size", "100"))
            except ValueError:
                size = 100
            if size <= 0 or size > 100:
                size = 100
            page_token = request.query.get("page_token") or wire_time(datetime.now(UTC))
            cutoff = _micro(page_token)
            items = [i for i in self.lists.get(path, []) if _micro(i["tm_create"]) < cutoff]
            items = items[:size]
            next_token = (
                _micro(items[-1]["tm_create"]).strftime("%Y-%m-%dT%H:%M:%S.%fZ") if items else ""
            )
            response = web.json_response({"result": items, "next_page_token": next_token})
        self.requests.append(Request(time.monotonic(), path, dict(request.query), status, in_url))
        return response

    async def _ws(self, request: web.Request) -> web.StreamResponse:
        token, in_url = self._token_of(request)
        self.ws_token_in_url |= in_url
        if token != self.token:
            self.ws_refused += 1
            return web.json_response({"code": "UNAUTHENTICATED"}, status=401)
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        number = self.ws_connections
        self.ws_connections += 1
        script = self.ws_scripts[number] if number < len(self.ws_scripts) else []
        first = await ws.receive()
        if first.type != WSMsgType.TEXT or not self._subscribe_ok(first.data):
            await ws.close()  # subscription.go: a bad message ends the connection
            return ws
        for action in script:
            if action[0] == "send":
                await ws.send_str(action[1])
            elif action[0] == "drop":
                assert request.transport is not None
                request.transport.abort()  # mid-stream, no close frame
                return ws
        async for _message in ws:  # keep it open until the client goes
            pass
        return ws

    def _subscribe_ok(self, text: str) -> bool:
        try:
            message = json.loads(text)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("type") != "subscribe":
            return False
        topics = message.get("topics")
        if not isinstance(topics, list) or not topics:
            return False
        for topic in topics:
            parts = str(topic).split(":")
            if len(parts) < 2 or parts[0] != "customer_id" or parts[1] != self.customer_id:
                return False
        self.subscribes.append(message)
        return True

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/v1.0/ws", self._ws)
        app.router.add_get("/v1.0/{tail:.*}", self._list)
        return app

    async def start(self) -> str:
        self._runner = web.AppRunner(self.app(), access_log=None, shutdown_timeout=1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def _micro(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class ThreadedFake:
    """A FakeVoipbin on its own event loop in a thread, for tests that run the CLI."""

    def __init__(self, fake: FakeVoipbin) -> None:
        self.fake = fake
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> FakeVoipbin:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(10)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)


def ago(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
