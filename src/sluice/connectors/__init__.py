"""Connectors: connection specs (what a connection needs) and, later, source readers."""
