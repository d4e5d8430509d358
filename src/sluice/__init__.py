"""Sluice: a flow service for batch ingestion into Delta Lake."""

__version__ = "0.1.0"
