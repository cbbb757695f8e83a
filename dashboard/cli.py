"""The `campaigncalls` command: the dashboard, the headless load/apply/watch/show/replay, and the
three ways in from VoIPbin (receive, sync, follow)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, NoReturn

import click
import sqlite_utils

from store.apply import EventOutcome
from store.bundle import load_bundle, resolve_bundle
from store.db import StoreError, connect
from store.dropfolder import (
    PARK_SECONDS,
    PROCESSED,
    REJECTED,
    FileReport,
    apply_path,
    display_name,
    ensure_drop_dir,
)
from store.dropwrite import DropWriter
from store.export import (
    FORMATS,
    ExportFormat,
    export_to_file,
    open_export_stream,
    write_export,
)
from store.follower import Follower, LinkState
from store.links import FollowLink, ListenLink
from store.models import CAMPAIGNCALL_STATUSES, CampaigncallStatus
from store.present import write_bundle_at_present
from store.prune import KEEP_PROCESSED_SECONDS, prune_every
from store.queries import SHORT_ID_CHARS, Filter, Lookup, Queries, detail_json
from store.readonly import reading
from store.receiver import SECRET_ENV, is_loopback, run_receiver
from store.restsync import (
    DEFAULT_API,
    TOKEN_ENV,
    ApiUnreachable,
    TokenRefused,
    sync_into,
    token_from_env,
)
from store.scenarios import Scenario, bundled_scenario_names, drop_file, load_scenario
from store.simulate import (
    DEFAULT_REASON_MIX,
    ReasonMix,
    Simulation,
    SimulationSettings,
    SimulationThread,
    read_seed,
)
from store.text import visible

if TYPE_CHECKING:
    from dashboard.app import CampaigncallsApp

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2
# The dashboard ends on these as on q; before and after it runs they end the command through
# SystemExit, so the demo's temporary folder is removed all the same.
END_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
EXIT_UNREACHABLE = 1  # SPEC: sync with VoIPbin unreachable exits 1
# `demo --simulate`: one dial every 5 s, so the demo's few targets last some minutes.
DEMO_RATE = 0.2

DB_OPTION = click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The SQLite database file.",
)


PARK_OPTION = click.option(
    "--park-seconds",
    type=click.FloatRange(min=0),
    default=PARK_SECONDS,
    show_default=True,
    help="How long an event may wait for its campaigncall before it ends"
    " (ignored for VoIPbin's calls, rejected for shorthand).",
)


def say(text: str, *, err: bool = False) -> None:
    """One line to the terminal, record data and names escaped (store.text.visible)."""
    click.echo(visible(text), err=err)


def _say_upgrading(sentence: str) -> None:
    say(sentence, err=True)


def open_db(db_path: Path, *, create: bool = False) -> sqlite_utils.Database:
    """The database, as every command opens it: an upgrade of an older schema is said first."""
    return connect(db_path, create=create, on_upgrade=_say_upgrading)


KEEP_OPTION = click.option(
    "--keep-processed",
    type=click.FloatRange(min=0),
    default=KEEP_PROCESSED_SECONDS / 86400,
    show_default=True,
    help="Days a file is kept in processed/ before it is pruned (rejected/ is never pruned).",
)

NO_SIGNATURE_OPTION = click.option(
    "--no-signature",
    is_flag=True,
    help=f"Listen beyond this machine without {SECRET_ENV} (anyone may then send events).",
)

API_OPTION = click.option(
    "--api",
    default=DEFAULT_API,
    show_default=True,
    help="VoIPbin's API; the websocket is the same host with ws/wss and /v1.0/ws.",
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    say(f"campaigncalls: {message}", err=True)
    sys.exit(code)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("campaigncalls.db"),
    show_default=True,
    help="The SQLite database file (made if missing).",
)
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("drop"),
    show_default=True,
    help="The folder where call events arrive as JSON files.",
)
@PARK_OPTION
@click.option(
    "--follow",
    "follow_ws",
    is_flag=True,
    help="Sync from VoIPbin's REST lists, then follow its websocket (needs --customer-id).",
)
@click.option("--customer-id", default=None, help="The VoIPbin customer to follow.")
@click.option("--api", default=DEFAULT_API, show_default=True, help="VoIPbin's API.")
@click.option(
    "--listen",
    default=None,
    metavar="HOST:PORT",
    help="Receive VoIPbin's webhooks in this process (as `receive` does).",
)
@NO_SIGNATURE_OPTION
@click.pass_context
def cli(
    ctx: click.Context,
    db_path: Path,
    drop_dir: Path,
    park_seconds: float,
    follow_ws: bool,
    customer_id: str | None,
    api: str,
    listen: str | None,
    no_signature: bool,
) -> None:
    """A live dashboard of VoIPbin campaigncalls, and the commands around it."""
    if ctx.invoked_subcommand is None:
        with signals_end_the_command():
            link = _dashboard_link(
                follow_ws, customer_id, api, listen, no_signature, db_path, drop_dir
            )
            with undone_on_failure(db_path, drop_dir):
                open_db(db_path, create=True).conn.close()
                make_drop_dir(drop_dir)
            from dashboard.app import CampaigncallsApp

            app = CampaigncallsApp(db_path, drop_dir, park_seconds=park_seconds, link=link)
            run_dashboard(app)


SQLITE_SIDECARS = ("-wal", "-shm", "-journal")


@contextmanager
def undone_on_failure(db_path: Path, drop_dir: Path | None = None) -> Iterator[None]:
    """A command that fails leaves the disk as it was: the database file it made (and its
    -wal, -shm, -journal) and the drop folders it made are removed again. Connections to
    the database must be closed inside."""
    db_files = [db_path, *(Path(f"{db_path}{suffix}") for suffix in SQLITE_SIDECARS)]
    # the deepest first: the drop folder's own folders, it, then the parents it was made in
    folders = (
        [drop_dir / PROCESSED, drop_dir / REJECTED, drop_dir, *drop_dir.parents] if drop_dir else []
    )
    new_files = [path for path in db_files if not path.exists()]
    new_folders = [path for path in folders if not path.exists()]
    try:
        yield
    except BaseException as error:
        if isinstance(error, SystemExit) and error.code in (None, EXIT_OK):
            raise
        if db_path in new_files:  # a database that was there keeps what its own rollback kept
            for path in new_files:
                path.unlink(missing_ok=True)
        for folder in new_folders:  # only if still empty: nothing of anyone's is removed
            try:
                folder.rmdir()
            except OSError:
                pass
        raise


def make_drop_dir(drop_dir: Path) -> None:
    try:
        ensure_drop_dir(drop_dir)
    except OSError as error:
        fail(f"the drop folder {drop_dir} cannot be made: {error.strerror or error}")


@contextmanager
def signals_end_the_command() -> Iterator[None]:
    """SIGTERM and SIGHUP raise SystemExit (exit 0, as q) instead of killing the process."""

    def end(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(EXIT_OK)

    previous = {signum: signal.signal(signum, end) for signum in END_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def run_dashboard(app: CampaigncallsApp) -> None:
    """Run the app; once it has ended, close its connections and fold the WAL back, so
    no -wal or -shm is left beside the database (the last connection to close does it)."""
    try:
        app.run()
    finally:
        app.close_connections()
        try:
            open_db(app.db_path).conn.close()
        except StoreError:
            pass  # the file went away meanwhile: nothing to fold back


def _dashboard_link(
    follow_ws: bool,
    customer_id: str | None,
    api: str,
    listen: str | None,
    no_signature: bool,
    db_path: Path,
    drop_dir: Path,
) -> FollowLink | ListenLink | None:
    """The way in from VoIPbin the dashboard runs beside its watcher, if one was asked for."""
    if follow_ws and listen:
        fail("choose one of --follow and --listen")
    if follow_ws:
        if customer_id is None:
            fail("--follow needs --customer-id (the VoIPbin customer whose events to follow)")
        return FollowLink(api, _token(), _customer_id(customer_id), db_path, drop_dir)
    if listen:
        host, _, port = listen.rpartition(":")
        if not host or not port.isdigit() or int(port) > 65535:
            fail(f"--listen {listen[:60]!r} is not HOST:PORT (for example 127.0.0.1:8080)")
        host = host.strip("[]")
        return ListenLink(host, int(port), _webhook_secret(host, no_signature), drop_dir)
    if customer_id is not None:
        fail("--customer-id is used with --follow")
    if no_signature:
        fail("--no-signature is used with --listen")
    return None


def _webhook_secret(host: str, no_signature: bool) -> str | None:
    """VOIPBIN_WEBHOOK_SECRET, or None where listening without one is allowed: on this
    machine only, or beyond it when --no-signature says so."""
    secret = os.environ.get(SECRET_ENV) or None
    if secret is None and not is_loopback(host) and not no_signature:
        fail(
            f"{host} is reachable from other machines and {SECRET_ENV} is not set, so anyone"
            " could send events; set it (and the same secret in VoIPbin) or pass --no-signature"
        )
    return secret


@cli.command()
@click.option(
    "--scenario",
    default="busy-retry",
    show_default=True,
    help=f"The scenario `n` steps through (bundled: {', '.join(bundled_scenario_names())}).",
)
@PARK_OPTION
@click.option(
    "--simulate", is_flag=True, help="Run VoIPbin's dialer, simulated, on the running campaigns."
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="With --simulate: simulated seconds per real second.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=DEMO_RATE,
    show_default=True,
    help="With --simulate: at most this many dials per simulated second.",
)
def demo(scenario: str, park_seconds: float, simulate: bool, speed: float, rate: float) -> None:
    """The dashboard on a fresh temporary database with the bundled demo loaded, at present."""
    chosen = load_scenario(scenario)
    now = datetime.now(UTC)
    with (
        signals_end_the_command(),
        tempfile.TemporaryDirectory(prefix="campaigncalls-demo-") as folder,
    ):
        db_path, drop_dir = prepare_demo(Path(folder), now)
        dialer = None
        if simulate:
            settings = SimulationSettings(speed=speed, rate=rate)
            dialer = start_demo_dialer(db_path, drop_dir, chosen, settings)
        from dashboard.app import CampaigncallsApp

        try:
            run_dashboard(
                CampaigncallsApp(
                    db_path,
                    drop_dir,
                    scenario=chosen,
                    park_seconds=park_seconds,
                    scenario_shift=chosen.shift_to(now),
                )
            )
        finally:
            if dialer is not None:
                dialer.stop()


def prepare_demo(folder: Path, now: datetime) -> tuple[Path, Path]:
    """The demo's database, its data moved to `now`, and its drop folder, made in `folder`."""
    db_path, drop_dir = folder / "demo.db", folder / "drop"
    db = open_db(db_path, create=True)
    try:
        load_bundle(
            db, str(write_bundle_at_present(resolve_bundle("demo"), folder / "demo.json", now))
        )
    finally:
        db.conn.close()
    make_drop_dir(drop_dir)
    return db_path, drop_dir


def start_demo_dialer(
    db_path: Path, drop_dir: Path, scenario: Scenario, settings: SimulationSettings
) -> SimulationThread:
    """The simulated dialer on the demo's running campaigns, leaving the scenario's targets
    to `n`."""
    seed = read_seed(db_path).without_targets(scenario.targets)
    return SimulationThread(Simulation(seed, settings), drop_dir).start()


@cli.command()
@DB_OPTION
@click.argument("bundles", nargs=-1, required=True)
def load(db_path: Path, bundles: tuple[str, ...]) -> None:
    """Load fixture bundles (files, or bundled names such as `demo`) into the database."""
    with undone_on_failure(db_path):
        db = open_db(db_path, create=True)
        try:
            for bundle in bundles:
                report = load_bundle(db, bundle, LoadProgress(bundle))
                say(f"loaded {report.source}: {_records(report.counts) or 'no records'}")
        finally:
            db.conn.close()


def _records(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {table}" for table, n in counts.items() if n)


# A load that takes longer than this says how far it has got, on stderr, this often.
PROGRESS_EVERY_S = 5.0


class LoadProgress:
    """Tells of a long load now and then, so a big bundle does not look like a hang."""

    def __init__(self, bundle: str) -> None:
        self.bundle = bundle
        self.next = time.monotonic() + PROGRESS_EVERY_S

    def __call__(self, counts: dict[str, int]) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + PROGRESS_EVERY_S
        say(f"loading {self.bundle}: {_records(counts)} so far", err=True)


def _print_outcomes(outcomes: list[EventOutcome], *, released: bool = False) -> None:
    """One line per event; rejected ones on stderr. `released`: parked events applied now.

    Each run of lines bound for the same stream is written at once (a file of 10,000
    events is one write, not 10,000), in the order of the events.
    """
    prefix = "released " if released else ""
    run: list[str] = []
    to_err = False
    for outcome in outcomes:
        err = outcome.outcome == "rejected"
        if run and err != to_err:
            click.echo("\n".join(run), err=to_err)
            run = []
        to_err = err
        run.append(prefix + outcome.line())
    if run:
        click.echo("\n".join(run), err=to_err)


@cli.command("apply")
@DB_OPTION
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def apply_files(db_path: Path, files: tuple[Path, ...]) -> None:
    """Apply drop files headless, by the watcher's rules; the files stay where they are."""
    db = open_db(db_path)
    rejected = False
    for path in files:
        released: list[EventOutcome] = []
        try:
            outcomes = apply_path(db, path, released)
        except FileNotFoundError:
            fail(f"{path} does not exist", EXIT_USAGE)
        except sqlite3.Error as error:
            fail(f"{db_path} cannot be written, so {path} was not applied: {error}", EXIT_USAGE)
        except OSError as error:
            fail(f"{path} cannot be read: {error.strerror}", EXIT_USAGE)
        rejected |= any(o.outcome == "rejected" for o in (*outcomes, *released))
        _print_outcomes(outcomes)
        _print_outcomes(released, released=True)
    sys.exit(EXIT_REJECTED if rejected else EXIT_OK)


@cli.command()
@DB_OPTION
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to watch.",
)
@PARK_OPTION
@KEEP_OPTION
def watch(db_path: Path, drop_dir: Path, park_seconds: float, keep_processed: float) -> None:
    """Apply files dropped into the folder as they land, a line per event, until stopped."""
    # here, not at the top: `apply` and `show` need neither asyncio nor watchfiles
    import asyncio

    from store.watcher import DropFolderWatcher, WatcherProblem

    open_db(db_path).conn.close()
    with undone_on_failure(db_path, drop_dir):
        make_drop_dir(drop_dir)

    def report(file_report: FileReport) -> None:
        _print_outcomes(file_report.outcomes)
        _print_outcomes(file_report.released, released=True)
        if file_report.moved_to is not None:
            say(f"{display_name(file_report.path)}: moved to {file_report.moved_to.parent.name}/")

    def problem(message: WatcherProblem) -> None:
        say(f"campaigncalls: {message}", err=True)

    watcher = DropFolderWatcher(
        db_path, drop_dir, report, on_problem=problem, park_seconds=park_seconds
    )

    def watching() -> None:
        # said once the folder is in place: before, a folder deleted at once went unnoticed
        say(f"watching {drop_dir} for {db_path}; stop with Ctrl-C", err=True)

    async def serve(stop: asyncio.Event) -> None:
        await watcher.run(stop, on_watching=watching)

    async def run() -> None:
        await until_stopped(serve, drop_dir, keep_processed)

    try:
        asyncio.run(run())
    finally:
        watcher.close()


async def until_stopped(
    serve: Callable[[asyncio.Event], Awaitable[None]], drop_dir: Path, keep_days: float
) -> None:
    """Run `serve` until SIGTERM or SIGINT, pruning processed/ beside it (watch, receive,
    follow)."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    pruning = asyncio.ensure_future(prune_now_and_then(drop_dir, keep_days, stop))
    try:
        await serve(stop)
    finally:
        stop.set()
        await pruning


async def prune_now_and_then(drop_dir: Path, keep_days: float, stop: asyncio.Event) -> None:
    """Prune processed/ at start and now and then until `stop`, saying what went."""
    await prune_every(
        drop_dir,
        keep_days * 86400,
        stop,
        on_pruned=lambda n: say(f"pruned {n:,} files over {keep_days:g} days old from processed/"),
        on_error=lambda error: say(
            f"campaigncalls: processed/ cannot be pruned ({error})", err=True
        ),
    )


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


def _token() -> str:
    token = token_from_env()
    if token is None:
        fail(f"set {TOKEN_ENV} to a VoIPbin token (it is read only from the environment)")
    return token


@cli.command()
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder each webhook lands in, as a drop file.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", type=click.IntRange(0, 65535), default=8080, show_default=True)
@NO_SIGNATURE_OPTION
@KEEP_OPTION
def receive(
    drop_dir: Path, host: str, port: int, no_signature: bool, keep_processed: float
) -> None:
    """VoIPbin's webhook receiver: each checked body lands in the folder before the 2xx."""
    secret = _webhook_secret(host, no_signature)
    try:
        ensure_drop_dir(drop_dir)
    except OSError as error:
        fail(f"the drop folder {drop_dir} cannot be made: {error.strerror}")

    def listening(bound_host: str, bound_port: int) -> None:
        checked = "signatures checked" if secret else "signatures not checked"
        say(
            f"receiving on http://{bound_host}:{bound_port}/ into {drop_dir} ({checked});"
            " stop with Ctrl-C",
            err=True,
        )

    async def serve(stop: asyncio.Event) -> None:
        await run_receiver(
            drop_dir,
            host,
            port,
            secret,
            stop,
            log_line=lambda line: say(line, err=True),
            on_listening=listening,
        )

    async def run() -> None:
        await until_stopped(serve, drop_dir, keep_processed)

    try:
        asyncio.run(run())
    except OSError as error:
        fail(f"cannot listen on {host}:{port}: {error.strerror or error}")


class SyncProgress:
    """Tells of a long sync now and then (stderr), like a long load."""

    def __init__(self) -> None:
        self.next = time.monotonic() + PROGRESS_EVERY_S

    def __call__(self, counts: dict[str, int]) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + PROGRESS_EVERY_S
        say(f"syncing: {_records(counts) or 'nothing yet'} read so far", err=True)


@cli.command()
@DB_OPTION
@API_OPTION
def sync(db_path: Path, api: str) -> None:
    """Read VoIPbin's REST lists (token from VOIPBIN_TOKEN) into the database, as load would."""
    token = _token()
    db = open_db(db_path, create=True)
    try:
        report = asyncio.run(
            sync_into(
                db,
                api,
                token,
                progress=SyncProgress(),
                on_wait=lambda text: say(f"campaigncalls: {text}", err=True),
                spool_dir=db_path.resolve().parent,
            )
        )
    except TokenRefused as error:
        fail(str(error), EXIT_USAGE)
    except ApiUnreachable as error:
        fail(f"{error}; nothing was changed", EXIT_UNREACHABLE)
    finally:
        db.conn.close()
    say(f"synced {report.source}: {_records(report.counts) or 'no records'}")


@cli.command()
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder each frame lands in, as a drop file.",
)
@click.option("--customer-id", required=True, help="The VoIPbin customer whose events to follow.")
@API_OPTION
@KEEP_OPTION
def follow(drop_dir: Path, customer_id: str, api: str, keep_processed: float) -> None:
    """VoIPbin's websocket (token from VOIPBIN_TOKEN): each frame lands in the folder."""
    customer_id = _customer_id(customer_id)
    token = _token()
    try:
        ensure_drop_dir(drop_dir)
    except OSError as error:
        fail(f"the drop folder {drop_dir} cannot be made: {error.strerror}")

    def state(link: LinkState) -> None:
        if link.kind == "live" and link.last_event_at is None:
            say(f"following customer {customer_id} at {api} into {drop_dir}", err=True)

    def problem(text: str) -> None:
        say(f"campaigncalls: {text}", err=True)

    follower = Follower(api, token, customer_id, drop_dir, on_state=state, on_problem=problem)

    async def serve(stop: asyncio.Event) -> None:
        await follower.run(stop)

    async def run() -> None:
        await until_stopped(serve, drop_dir, keep_processed)

    try:
        asyncio.run(run())
    except TokenRefused as error:
        fail(str(error), EXIT_USAGE)


def _customer_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        fail(f"--customer-id {text[:60]!r} is not a UUID (VoIPbin's customer id)")


@cli.command()
@DB_OPTION
@click.argument("ident", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(db_path: Path, ident: str, as_json: bool) -> None:
    """One campaigncall (by id or reference_id, or 4 or more of their first characters, or the
    short form the tables show) with its target, outplan, retry plan and events."""
    with reading(db_path) as queries:
        detail = queries.detail(ident)
        lookup = queries.look_up(ident) if detail is None else None
        if lookup is not None and len(lookup.ids) == 1 and not lookup.more:
            detail = queries.detail(lookup.ids[0])
    if detail is None:
        assert lookup is not None
        fail(*_not_shown(ident, lookup))
    if as_json:
        click.echo(detail_json(detail))
        return
    from dashboard.render import detail_text

    click.echo(detail_text(detail))


def _not_shown(typed: str, lookup: Lookup) -> tuple[str, int]:
    """Why `show` shows nothing, in a sentence, and its exit status."""
    shown = visible(lookup.shown_as)
    if lookup.ids:  # several
        count = f"{len(lookup.ids)}{'+' if lookup.more else ''}"
        names = ", ".join(visible(i) for i in lookup.ids) + (", …" if lookup.more else "")
        return (
            f"{count} campaigncalls have an id or reference_id starting {shown}: {names};"
            " give more of the id",
            EXIT_REJECTED,
        )
    if lookup.parked:
        awaited = {lookup_id for lookup_id, _ in lookup.parked}
        ids = ", ".join(visible(i) for i in sorted(awaited))
        count = len(lookup.parked)
        events = "; ".join(
            f"{visible(e.type or '?')} from {visible(e.file)} at {visible(e.tm)}"
            for _, e in lookup.parked[:3]
        ) + ("; …" if count > 3 else "")
        waits = "1 event is" if count == 1 else f"{count:,} events are"
        return (
            f"no campaigncall has id or reference_id {shown} yet; {waits} parked waiting for"
            f" {ids} ({events})",
            EXIT_REJECTED,
        )
    if _looks_like_an_id_start(lookup) and len(lookup.start) < SHORT_ID_CHARS:
        return (
            f"{shown} is too short to look an id up by: give {SHORT_ID_CHARS} or more of its"
            " first characters",
            EXIT_USAGE,
        )
    return f"no campaigncall has id or reference_id {visible(typed.strip())}", EXIT_REJECTED


def _looks_like_an_id_start(lookup: Lookup) -> bool:
    return bool(lookup.start) and all(c in "0123456789abcdef-" for c in lookup.start + lookup.end)


@cli.command()
@DB_OPTION
@click.option(
    "--status",
    type=click.Choice(CAMPAIGNCALL_STATUSES),
    help="Only this status group (default: all three, dialing first).",
)
@click.option("--campaign", "campaign_id", metavar="ID", help="Only this campaign's calls.")
@click.option(
    "--filter",
    "text",
    default="",
    metavar="TEXT",
    help="The dashboard's filter: an id's start, or part of a destination's target or names.",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="csv", show_default=True)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (whole or not at all) instead of stdout.",
)
def export(
    db_path: Path,
    status: CampaigncallStatus | None,
    campaign_id: str | None,
    text: str,
    fmt: ExportFormat,
    output: Path | None,
) -> None:
    """The campaigncalls asked for, as CSV or JSON, to stdout; the database is only read.

    CSV has a header row, RFC 4180 quoting and each Address as five columns
    (destination_type, destination_target, ...); JSON is an array of the records as stored.
    The data is written unchanged to a file or a pipe. On a terminal, control characters are
    shown escaped (\\x1b) so they cannot drive it: redirect to get the data as it is.
    """
    try:
        with reading(db_path) as queries:
            if campaign_id is not None:
                campaign_id = _campaign_id(queries, campaign_id)
            flt = Filter(campaign_id, text)
            if output is None:
                _export_to_stdout(queries, status, flt, fmt)
                return
            if _same_file(output, db_path):
                fail(f"--output {output} is the database itself", EXIT_USAGE)
            rows = export_to_file(db_path, output, status=status, flt=flt, fmt=fmt)
    except sqlite3.Error as error:
        fail(f"{db_path} cannot be read: {error}", EXIT_USAGE)
    except OSError as error:
        if isinstance(error, BrokenPipeError) or output is None:
            raise
        fail(f"{output} cannot be written: {error.strerror or error}", EXIT_USAGE)
    click.echo(f"exported {rows:,} campaigncalls to {output}", err=True)


def _export_to_stdout(
    queries: Queries, status: CampaigncallStatus | None, flt: Filter, fmt: ExportFormat
) -> None:
    sys.stdout.flush()
    escape = sys.stdout.isatty()  # control characters must not reach a terminal raw
    try:
        with open_export_stream(sys.stdout.fileno()) as out:
            write_export(queries, out, status=status, flt=flt, fmt=fmt, escape=escape)
    except BrokenPipeError:
        # the reader stopped (`| head`): not an error; nothing more may reach the pipe
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _campaign_id(queries: Queries, given: str) -> str:
    """A campaign's id as stored, or a usage error for one no record names."""
    try:
        ident = str(uuid.UUID(given.strip()))
    except ValueError:
        fail(f"--campaign {given!r} is not a campaign id (a UUID)", EXIT_USAGE)
    known = {campaign for campaign, _name in queries.campaigns()}
    if ident not in known and queries.counts(ident).total == 0:
        fail(f"no campaign or campaigncall has campaign id {ident}", EXIT_USAGE)
    return ident


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve() or (a.exists() and a.samefile(b))
    except OSError:
        return False


@cli.command()
@click.argument("scenario")
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder to drop the files into.",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds between files.",
)
def replay(scenario: str, drop_dir: Path, interval: float) -> None:
    """Drop a scenario's files into a folder one by one (write, then rename)."""
    chosen = load_scenario(scenario)
    for number, step in enumerate(chosen.steps, start=1):
        if number > 1:
            time.sleep(interval)
        target = drop_file(step.file, drop_dir)
        say(f"step {number} of {len(chosen.steps)}: {target} ({step.caption})")


@cli.command()
@DB_OPTION
@click.option(
    "--drop-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The folder the feed is written into.",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="At most this many dials per simulated second (default: VoIPbin's own pace).",
)
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Simulated seconds per real second (60: a minute each second).",
)
@click.option(
    "--seconds",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop after this many real seconds (default: when no campaign will dial again).",
)
@click.option(
    "--reasons",
    default=str(DEFAULT_REASON_MIX),
    show_default=True,
    help="The hangup reasons by weight.",
)
@click.option(
    "--dials",
    type=click.IntRange(min=1),
    default=None,
    help="Dial no more than this many, then let the calls in flight end.",
)
@click.option("--seed", type=int, default=None, help="The same seed gives the same feed.")
def simulate(
    db_path: Path,
    drop_dir: Path,
    rate: float | None,
    speed: float,
    seconds: float | None,
    reasons: str,
    dials: int | None,
    seed: int | None,
) -> None:
    """VoIPbin's dialer on the database's running campaigns: writes the feed it would send."""
    settings = SimulationSettings(
        speed=speed,
        rate=rate,
        seconds=seconds,
        dials=dials,
        reasons=ReasonMix.parse(reasons),
        seed=seed,
    )
    seed_data = read_seed(db_path)
    if not seed_data.campaigns:
        fail(f"{db_path} has no running campaign (status run) to simulate")
    simulation = Simulation(seed_data, settings, lambda note: say(note.line(), err=True))
    ensure_drop_dir(drop_dir)
    stop = threading.Event()
    for signum in (signal.SIGINT, *END_SIGNALS):  # the file in hand is finished, then it ends
        signal.signal(signum, lambda _signum, _frame: stop.set())
    try:
        tally = simulation.run(DropWriter(drop_dir, "sim").write, stop)
    except OSError as error:
        fail(f"the feed cannot be written into {drop_dir}: {error.strerror or error}")
    say(f"simulated {tally.summary()}", err=True)


@cli.command(
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Run the benchmarks (`bench --help` lists their options)."""
    from bench.__main__ import main as bench_main

    sys.exit(bench_main(list(args)))


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.NoArgsIsHelpError as error:
        click.echo(error.ctx.get_help() if error.ctx else str(error))
        sys.exit(EXIT_USAGE)
    except click.UsageError as error:
        hint = f" (see: {error.ctx.command_path} --help)" if error.ctx else ""
        fail(f"{error.format_message().rstrip('.')}{hint}", EXIT_USAGE)
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as error:
        fail(error.format_message(), EXIT_USAGE)
    except StoreError as error:
        fail(str(error), EXIT_USAGE)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)


if __name__ == "__main__":
    main()
