"""The `campaigncalls` command: the dashboard, and the headless load/apply/watch/show/replay."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import NoReturn

import click

from store.apply import EventOutcome, FileReport, apply_path, ensure_drop_dir
from store.bundle import load_bundle
from store.db import StoreError, connect
from store.export import (
    FORMATS,
    ExportFormat,
    check_exportable,
    export_to_file,
    open_export_stream,
    write_export,
)
from store.models import CAMPAIGNCALL_STATUSES, CampaigncallStatus
from store.queries import Filter, Queries, detail_json
from store.scenarios import bundled_scenario_names, drop_file, load_scenario
from store.watcher import PARK_SECONDS, DropFolderWatcher, WatcherProblem

EXIT_OK, EXIT_REJECTED, EXIT_USAGE = 0, 1, 2

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
    help="How long an event may wait for its campaigncall before it is rejected.",
)


def fail(message: str, code: int = EXIT_USAGE) -> NoReturn:
    click.echo(f"campaigncalls: {message}", err=True)
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
@click.pass_context
def cli(ctx: click.Context, db_path: Path, drop_dir: Path, park_seconds: float) -> None:
    """A live dashboard of VoIPbin campaigncalls, and the commands around it."""
    if ctx.invoked_subcommand is None:
        connect(db_path, create=True).conn.close()
        ensure_drop_dir(drop_dir)
        from dashboard.app import CampaigncallsApp

        CampaigncallsApp(db_path, drop_dir, park_seconds=park_seconds).run()


@cli.command()
@click.option(
    "--scenario",
    default="busy-retry",
    show_default=True,
    help=f"The scenario `n` steps through (bundled: {', '.join(bundled_scenario_names())}).",
)
@PARK_OPTION
def demo(scenario: str, park_seconds: float) -> None:
    """The dashboard on a fresh temporary database with the bundled demo loaded."""
    chosen = load_scenario(scenario)
    with tempfile.TemporaryDirectory(prefix="campaigncalls-demo-") as folder:
        db_path = Path(folder) / "demo.db"
        drop_dir = Path(folder) / "drop"
        db = connect(db_path, create=True)
        load_bundle(db, "demo")
        db.conn.close()
        ensure_drop_dir(drop_dir)
        from dashboard.app import CampaigncallsApp

        CampaigncallsApp(db_path, drop_dir, scenario=chosen, park_seconds=park_seconds).run()


@cli.command()
@DB_OPTION
@click.argument("bundles", nargs=-1, required=True)
def load(db_path: Path, bundles: tuple[str, ...]) -> None:
    """Load fixture bundles (files, or bundled names such as `demo`) into the database."""
    db = connect(db_path, create=True)
    for bundle in bundles:
        report = load_bundle(db, bundle, LoadProgress(bundle))
        click.echo(f"loaded {report.source}: {_records(report.counts) or 'no records'}")


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
        click.echo(f"loading {self.bundle}: {_records(counts)} so far", err=True)


def _print_outcome(outcome: EventOutcome, *, released: bool = False) -> None:
    """One line per event; rejected ones on stderr. `released`: a parked event applied now."""
    prefix = "released " if released else ""
    click.echo(prefix + outcome.line(), err=outcome.outcome == "rejected")


@cli.command("apply")
@DB_OPTION
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def apply_files(db_path: Path, files: tuple[Path, ...]) -> None:
    """Apply drop files headless, by the watcher's rules; the files stay where they are."""
    db = connect(db_path)
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
        for outcome in outcomes:
            rejected |= outcome.outcome == "rejected"
            _print_outcome(outcome)
        for outcome in released:
            rejected |= outcome.outcome == "rejected"
            _print_outcome(outcome, released=True)
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
def watch(db_path: Path, drop_dir: Path, park_seconds: float) -> None:
    """Apply files dropped into the folder as they land, a line per event, until stopped."""
    connect(db_path).conn.close()
    ensure_drop_dir(drop_dir)

    def report(file_report: FileReport) -> None:
        for outcome in file_report.outcomes:
            _print_outcome(outcome)
        for outcome in file_report.released:
            _print_outcome(outcome, released=True)
        if file_report.moved_to is not None:
            click.echo(f"{file_report.path.name}: moved to {file_report.moved_to.parent.name}/")

    def problem(message: WatcherProblem) -> None:
        click.echo(f"campaigncalls: {message}", err=True)

    watcher = DropFolderWatcher(
        db_path, drop_dir, report, on_problem=problem, park_seconds=park_seconds
    )
    click.echo(f"watching {drop_dir} for {db_path}; stop with Ctrl-C", err=True)

    async def run() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await watcher.run(stop)

    try:
        asyncio.run(run())
    finally:
        watcher.close()


@cli.command()
@DB_OPTION
@click.argument("ident", metavar="ID")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def show(db_path: Path, ident: str, as_json: bool) -> None:
    """One campaigncall (by id or reference_id) with its target, outplan, retry plan and events."""
    connect(db_path).conn.close()
    queries = Queries(db_path)
    detail = queries.detail(ident)
    if detail is None:
        fail(f"no campaigncall has id or reference_id {ident}", EXIT_REJECTED)
    if as_json:
        click.echo(detail_json(detail))
        return
    from dashboard.render import detail_text

    click.echo(detail_text(detail))


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
    check_exportable(db_path)
    queries = Queries(db_path)
    try:
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
    finally:
        queries.close()
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
        click.echo(f"step {number} of {len(chosen.steps)}: {target} ({step.caption})")


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
