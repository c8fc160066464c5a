"""Readers of raw source files: each streams records, or `Rejected` lines, and never raises on
bad content."""
