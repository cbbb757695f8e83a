"""`python -m dashboard` runs the `campaigncalls` command."""

from dashboard.cli import main

main()
