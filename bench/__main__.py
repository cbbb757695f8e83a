"""`python -m bench`: build seeded data, run the benchmarks, print and write the results table."""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench import data, report

BENCHES = (
    "apply", "feed", "watch", "load", "screen", "open", "receive", "follow", "export", "overview",
)  # fmt: skip
# Run only when named in --only (a minute of wall time each): `python -m bench.soak` and
# `python -m bench.soak_receive` have the options.
OPTIONAL = ("soak", "soak_receive")
DEFAULT_OUT = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmarks of the campaigncalls store and dashboard, each beside a"
        " baseline measured in the same run.",
    )
    parser.add_argument(
        "--calls", type=int, default=1_000_000, help="campaigncalls in the database"
    )
    parser.add_argument("--seed", type=int, default=data.SEED)
    parser.add_argument(
        "--only",
        default=",".join(BENCHES),
        help=f"comma-separated subset of {','.join(BENCHES + OPTIONAL)}",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where the JSON goes")
    args = parser.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = sorted(set(chosen) - set(BENCHES + OPTIONAL))
    if unknown:
        parser.error(
            f"unknown benchmark {', '.join(unknown)} (known: {', '.join(BENCHES + OPTIONAL)})"
        )

    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(
        f"campaigncalls bench: {args.calls:,} campaigncalls, seed {args.seed}: {', '.join(chosen)}"
    )
    figures: list[report.Figure] = []
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="campaigncalls-bench-run-") as work:
        for name in BENCHES + OPTIONAL:
            if name not in chosen:
                continue
            print(f"[{name}]", flush=True)
            bench_started = time.perf_counter()
            module = importlib.import_module(f"bench.{name}")
            try:
                for figure in module.run(args.seed, args.calls, Path(work)):
                    figure.bench = name
                    figures.append(figure)
            except Exception as error:  # one broken benchmark must not lose the others' figures
                failed.append(name)
                print(f"  ! {name} failed: {type(error).__name__}: {error}", file=sys.stderr)
            data.log(f"{name} took {time.perf_counter() - bench_started:.1f} s")
    seconds = time.perf_counter() - started
    run = {"calls": args.calls, "seed": args.seed, "only": chosen, "failed": failed,
           "started": stamp, "seconds": seconds}  # fmt: skip
    if set(chosen) != set(BENCHES):
        figures = report.merge_previous(args.out, figures, run, chosen)
    out, md = report.write(figures, args.out, run)
    print()
    print(report.text_table(figures))
    print()
    print(report.markdown_table(figures))
    print(f"\nwritten {out} and {md} ({seconds:.0f} s)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
