"""The `sluice` command line: serve, admin (direct database) and API client commands."""
