"""VoIPbin's REST lists, read page by page, and `sync`: them into the database as `load` would.

From VoIPbin's code (voipbin/monorepo):
- bin-api-manager/server/campaigns.go `GetCampaigns`, outplans.go `GetOutplans`, outdials.go
  `GetOutdials` and `GetOutdialsIdTargets`, campaigncalls.go `GetCampaigncalls`: `page_size`
  (1..100; anything else is taken as 100) and `page_token`; the answer
  (server/main.go `GenerateListResponse`) is `{"result": [...], "next_page_token": "..."}`,
  the token being the last item's tm_create as `2006-01-02T15:04:05.000000Z`, and empty only
  when the result is empty. A short page is not the end: the next one (empty) is.
- bin-campaign-manager/pkg/dbhandler/campaigncall.go `CampaigncallList`: `tm_create < token`,
  newest first (`tm_create DESC, id DESC`).
- bin-api-manager/lib/middleware/authenticate.go: the token is read from the `token` cookie,
  the `token` query parameter or `Authorization: Bearer`; a refused one gets 401 (403 for a
  frozen account).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import aiohttp
import sqlite_utils

from store.bundle import LoadReport, load_bundle
from store.db import StoreError
from store.timefmt import BadTimestamp, parse_tm

PAGE_SIZE = 100  # the most VoIPbin gives (server/campaigncalls.go)
DEFAULT_API = "https://api.voipbin.net"
TOKEN_ENV = "VOIPBIN_TOKEN"
RETRIES_5XX = 6  # a 5xx is retried this often, with backoff (about 30 s in all)
RETRIES_UNREACHABLE = 3  # a host that cannot be reached is tried this often (a few seconds)
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0
RETRY_AFTER_CAP_S = 300.0
TIMEOUT = aiohttp.ClientTimeout(total=60, sock_connect=15)


class TokenRefused(Exception):
    """VoIPbin refused the token (401 or 403)."""

    def __init__(self, status: int) -> None:
        super().__init__(
            f"VoIPbin refused the token in {TOKEN_ENV} ({status}"
            f" {'unauthorized' if status == 401 else 'forbidden'}); set a valid one"
        )
        self.status = status


class ApiUnreachable(Exception):
    """VoIPbin could not be reached, or kept answering with errors; one sentence, no token."""


def backoff_seconds(
    attempt: int, base: float = BACKOFF_BASE_S, cap: float = BACKOFF_CAP_S
) -> float:
    """Exponential with jitter: half the step fixed, half random; never more than `cap`."""
    step = min(cap, base * 2.0 ** min(attempt, 30))
    return step / 2 + random.uniform(0, step / 2)


def retry_after_seconds(value: str | None, default: float = 1.0) -> float:
    """Retry-After as seconds or an HTTP date; a missing or odd one waits `default`."""
    if not value:
        return default
    try:
        return min(RETRY_AFTER_CAP_S, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return default
    return min(RETRY_AFTER_CAP_S, max(0.0, when - time.time()))


def api_root(api: str) -> str:
    return api.rstrip("/")


def token_from_env() -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    return token or None


@dataclass
class VoipbinRest:
    """Reads VoIPbin's paged lists with one session; the token goes only in a header."""

    session: aiohttp.ClientSession
    api: str
    token: str
    on_wait: Callable[[str], None] | None = None

    def _url(self, path: str) -> str:
        return f"{api_root(self.api)}/v1.0/{path.lstrip('/')}"

    async def page(self, path: str, page_token: str = "") -> tuple[list[Any], str]:
        """One page: (items, next token); waits out 429s and retries 5xx and network errors."""
        params = {"page_size": str(PAGE_SIZE)}
        if page_token:
            params["page_token"] = page_token
        headers = {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
        failures = 0
        while True:
            problem: str
            limit = RETRIES_5XX
            try:
                async with self.session.get(
                    self._url(path), params=params, headers=headers, timeout=TIMEOUT
                ) as response:
                    if response.status in (401, 403):
                        raise TokenRefused(response.status)
                    if response.status == 429:
                        wait = retry_after_seconds(response.headers.get("Retry-After"))
                        self._tell(f"VoIPbin asked to slow down; waiting {wait:.0f} s")
                        await asyncio.sleep(wait)
                        continue  # a 429 is not a failure: it is waited out however often
                    if response.status >= 500:
                        problem = f"VoIPbin answered {response.status} for /v1.0/{path}"
                    elif response.status != 200:
                        raise ApiUnreachable(f"VoIPbin answered {response.status} for /v1.0/{path}")
                    else:
                        return _page_of(await response.read(), path)
            except (aiohttp.ClientConnectionError, TimeoutError, OSError) as error:
                problem = f"VoIPbin at {self.api} cannot be reached ({_reason(error)})"
                limit = RETRIES_UNREACHABLE
            failures += 1
            if failures > limit:
                raise ApiUnreachable(problem)
            wait = backoff_seconds(failures - 1)
            self._tell(f"{problem}; trying again in {wait:.1f} s")
            await asyncio.sleep(wait)

    async def items(self, path: str, *, since: str | None = None) -> AsyncIterator[Any]:
        """Every item of a list, newest first; with `since` (a stored timestamp, UTC), stop at
        the first item created before it."""
        token = ""
        while True:
            items, token = await self.page(path, token)
            for item in items:
                if since is not None and _created(item) < since:
                    return
                yield item
            if not items or not token:
                return

    def _tell(self, text: str) -> None:
        if self.on_wait is not None:
            self.on_wait(text)


def _created(item: Any) -> str:
    """The item's tm_create in the stored form (which sorts); "" if it has none readable."""
    created = item.get("tm_create") if isinstance(item, dict) else None
    try:
        return parse_tm(created) or ""
    except BadTimestamp:
        return ""


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError):
        return "timed out"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text.splitlines()[0][:200]


def _page_of(body: bytes, path: str) -> tuple[list[Any], str]:
    try:
        document = json.loads(body)
    except ValueError:
        raise ApiUnreachable(f"VoIPbin's answer for /v1.0/{path} is not JSON") from None
    if not isinstance(document, dict) or not isinstance(document.get("result", []), list):
        raise ApiUnreachable(f"VoIPbin's answer for /v1.0/{path} has no result list")
    token = document.get("next_page_token") or ""
    return list(document.get("result") or []), token if isinstance(token, str) else ""


# The lists sync reads, bundle key -> REST path (outdialtargets are read per outdial).
LISTS = {
    "campaigns": "campaigns",
    "outplans": "outplans",
    "outdials": "outdials",
    "campaigncalls": "campaigncalls",
}


async def fetch_bundle(
    rest: VoipbinRest, out: Path, progress: Callable[[dict[str, int]], None] | None = None
) -> dict[str, int]:
    """Write every list into `out` as a bundle (an object of lists), a page at a time."""
    counts = {key: 0 for key in ("campaigns", "outplans", "outdials", "outdialtargets")}
    counts["campaigncalls"] = 0
    outdial_ids: list[str] = []
    with out.open("w", encoding="utf-8") as stream:
        stream.write("{")
        first_list = True

        async def write_list(key: str, items: AsyncIterator[Any], opened: bool = False) -> None:
            nonlocal first_list
            if not opened:
                stream.write(("" if first_list else ",\n") + json.dumps(key) + ": [")
                first_list = False
            async for item in items:
                stream.write(("\n" if counts[key] == 0 else ",\n") + json.dumps(item))
                counts[key] += 1
                if key == "outdials" and isinstance(item, dict) and isinstance(item.get("id"), str):
                    outdial_ids.append(item["id"])
                if progress is not None and counts[key] % PAGE_SIZE == 0:
                    progress(dict(counts))

        for key in ("campaigns", "outplans", "outdials"):
            await write_list(key, rest.items(LISTS[key]))
            stream.write("]")
        stream.write(",\n" + json.dumps("outdialtargets") + ": [")
        for outdial_id in outdial_ids:
            await write_list("outdialtargets", rest.items(f"outdials/{outdial_id}/targets"), True)
        stream.write("]")
        await write_list("campaigncalls", rest.items(LISTS["campaigncalls"]))
        stream.write("]}\n")
    if progress is not None:
        progress(dict(counts))
    return counts


async def sync_into(
    db: sqlite_utils.Database,
    api: str,
    token: str,
    *,
    progress: Callable[[dict[str, int]], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
    spool_dir: Path | None = None,
) -> LoadReport:
    """Read every list, then upsert it all in one transaction, exactly as `load` would.

    The items are spooled to a temporary bundle file first, so the database is not held while
    the network is read and a big account costs little memory; the bundle is then loaded by
    store.bundle.load_bundle (the same checks, the same upserts, the same retry plans).
    """
    async with aiohttp.ClientSession() as session:
        rest = VoipbinRest(session, api, token, on_wait)
        handle, name = tempfile.mkstemp(prefix=".sync-", suffix=".json", dir=spool_dir)
        os.close(handle)
        spool = Path(name)
        try:
            await fetch_bundle(rest, spool, progress)
            try:
                report = load_bundle(db, str(spool))
            except StoreError as error:  # name the lists, not the spool file
                raise StoreError(str(error).replace(str(spool), "VoIPbin's lists")) from None
        finally:
            spool.unlink(missing_ok=True)
    return LoadReport(f"VoIPbin at {api}", report.counts)
