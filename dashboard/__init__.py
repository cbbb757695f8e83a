"""The campaigncall dashboard: a Textual app on the store, and the `campaigncalls` command."""
