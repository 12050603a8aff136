"""govlake: a data platform for district enterprise and citizen services."""

__version__ = "0.1.0"
