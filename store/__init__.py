"""The campaigncall store: records, VoIPbin's rules, SQLite, the drop folder (no textual)."""
