"""Child-process servers for the network benchmarks; each prints its port, then serves.

python -m bench._servers bare-http          # answers 200 to everything: receive's baseline
python -m bench._servers ws-source N        # a websocket that, after a subscribe, sends N
                                            # VoIPbin-like frames as fast as it can
"""

from __future__ import annotations

import asyncio
import json
import sys
import uuid

from aiohttp import WSMsgType, web


def frame(n: int) -> str:
    """A call_updated frame of about the size VoIPbin sends (a call has many fields)."""
    return json.dumps(
        {
            "type": "call_updated",
            "data": {
                "id": str(uuid.UUID(int=n)),
                "customer_id": "5e4a0680-804e-11ec-8477-2fea5968d85b",
                "type": "flow",
                "direction": "outgoing",
                "status": "progressing",
                "source": {"type": "tel", "target": "+15550100001"},
                "destination": {"type": "tel", "target": "+15550100002"},
                "action": {"id": str(uuid.UUID(int=n + 1)), "type": "talk"},
                "recording_ids": [],
                "hangup_by": "",
                "hangup_reason": "",
                "tm_progressing": "2026-08-18T09:00:01.34393Z",
                "tm_create": "2026-08-18T09:00:00.1Z",
                "tm_update": "2026-08-18T09:00:02.000345Z",
            },
        }
    )


def bare_http() -> web.Application:
    async def ok(_request: web.Request) -> web.Response:
        await _request.read()
        return web.Response(text="accepted\n")

    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", ok)
    return app


def ws_source(count: int) -> web.Application:
    frames = [frame(n) for n in range(count)]

    async def ws(request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        first = await socket.receive()
        if first.type != WSMsgType.TEXT or json.loads(first.data).get("type") != "subscribe":
            await socket.close()
            return socket
        for text in frames:
            await socket.send_str(text)
        async for _message in socket:
            pass
        return socket

    app = web.Application()
    app.router.add_get("/v1.0/ws", ws)
    return app


def main() -> None:
    mode = sys.argv[1]
    app = bare_http() if mode == "bare-http" else ws_source(int(sys.argv[2]))

    async def serve() -> None:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        print(runner.addresses[0][1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
