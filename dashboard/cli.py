"""The `campaigncalls` command: the dashboard, and the headless load/apply/watch/show/replay."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from typing import NoReturn

import click

from store.apply import EventOutcome
from store.bundle import load_bundle
from store.db import StoreError, connect
from store.dropfolder import PARK_SECONDS, FileReport, apply_path, display_name, ensure_drop_dir
from store.scenarios import bundled_scenario_names, drop_file, load_scenario
from store.text import visible

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


def say(text: str, *, err: bool = False) -> None:
    """One line to the terminal, record data and names escaped (store.text.visible)."""
    click.echo(visible(text), err=err)


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
        say(f"loaded {report.source}: {_records(report.counts) or 'no records'}")


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
def watch(db_path: Path, drop_dir: Path, park_seconds: float) -> None:
    """Apply files dropped into the folder as they land, a line per event, until stopped."""
    # here, not at the top: `apply` and `show` need neither asyncio nor watchfiles
    import asyncio
    import signal

    from store.watcher import DropFolderWatcher, WatcherProblem

    connect(db_path).conn.close()
    ensure_drop_dir(drop_dir)

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
    say(f"watching {drop_dir} for {db_path}; stop with Ctrl-C", err=True)

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
    from store.queries import Queries, detail_json

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
