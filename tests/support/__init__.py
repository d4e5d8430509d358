"""Helpers shared by the test packages (importable as `support`)."""
