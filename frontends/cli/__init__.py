"""The command-line frontend: ``otvet serve|ask|ingest|migrate|plugins``."""
