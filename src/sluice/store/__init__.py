"""Metadata store: SQLAlchemy models, tenant-scoped repositories and migrations."""
