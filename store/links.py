"""The dashboard's links to VoIPbin: sync then follow the websocket, or receive webhooks.

Each runs on the caller's event loop until `stop` is set and tells its state (a LinkState)
as it changes; the dashboard shows it in its header. No textual here.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from store.db import StoreError, connect
from store.follower import Follower, LinkState
from store.prune import KEEP_PROCESSED_SECONDS, prune_every
from store.receiver import run_receiver
from store.restsync import ApiUnreachable, TokenRefused, sync_into

StateSink = Callable[[LinkState], None]


def _sync_in_thread(db_path: Path, api: str, token: str) -> None:
    """The whole sync on its own loop and connection, so the screen's loop is not held."""

    async def sync() -> None:
        db = connect(db_path)
        try:
            await sync_into(db, api, token, spool_dir=db_path.resolve().parent)
        finally:
            db.conn.close()

    asyncio.run(sync())


@dataclass
class FollowLink:
    """`campaigncalls --follow`: sync the REST lists first, then follow the websocket."""

    api: str
    token: str
    customer_id: str
    db_path: Path
    drop_dir: Path

    def __repr__(self) -> str:  # never the token
        return f"FollowLink(api={self.api!r}, customer_id={self.customer_id!r})"

    async def run(self, stop: asyncio.Event, on_state: StateSink) -> None:
        # weeks of frames: processed/ is pruned as `follow` prunes it
        pruning = asyncio.ensure_future(prune_every(self.drop_dir, KEEP_PROCESSED_SECONDS, stop))
        try:
            await self._sync_then_follow(stop, on_state)
        finally:
            pruning.cancel()

    async def _sync_then_follow(self, stop: asyncio.Event, on_state: StateSink) -> None:
        on_state(LinkState("syncing", detail=f"reading VoIPbin's lists at {self.api}"))
        try:
            await asyncio.to_thread(_sync_in_thread, self.db_path, self.api, self.token)
        except TokenRefused as error:
            on_state(LinkState("refused", detail=str(error)))
            return
        except (ApiUnreachable, StoreError) as error:
            # the websocket may still work: follow, and say the sync did not happen
            on_state(LinkState("connecting", detail=f"sync failed: {error}"))
        follower = Follower(
            self.api, self.token, self.customer_id, self.drop_dir, on_state=on_state,
            on_problem=lambda text: None,
        )  # fmt: skip
        try:
            await follower.run(stop)
        except TokenRefused:
            return  # the follower told the state already


@dataclass
class ListenLink:
    """`campaigncalls --listen HOST:PORT`: the webhook receiver in the dashboard's process."""

    host: str
    port: int
    secret: str | None
    drop_dir: Path

    def __repr__(self) -> str:  # never the secret
        return f"ListenLink(host={self.host!r}, port={self.port})"

    async def run(self, stop: asyncio.Event, on_state: StateSink) -> None:
        pruning = asyncio.ensure_future(prune_every(self.drop_dir, KEEP_PROCESSED_SECONDS, stop))
        try:
            await self._receive(stop, on_state)
        finally:
            pruning.cancel()

    async def _receive(self, stop: asyncio.Event, on_state: StateSink) -> None:
        last: list[float] = []
        where: list[str] = []

        def listening(host: str, port: int) -> None:
            where.append(f"receiving on http://{host}:{port}/")
            on_state(LinkState("live", detail=where[0]))

        def accepted() -> None:
            last[:] = [time.time()]
            on_state(LinkState("live", last_event_at=last[0], detail=where[0] if where else ""))

        try:
            await run_receiver(
                self.drop_dir, self.host, self.port, self.secret, stop,
                log_line=lambda line: None, on_listening=listening, on_accepted=accepted,
            )  # fmt: skip
        except OSError as error:
            on_state(LinkState("stopped", detail=f"cannot listen on {self.host}:{self.port}"
                               f" ({error.strerror or error})"))  # fmt: skip
            return
        on_state(LinkState("stopped"))
