"""A file's format options as a dashboard form types them: the explore page's preview and
the flow wizard's column reflection read a file with the same four inputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# How the header select's values read; empty (or anything else) is the service's default.
_HEADER_CHOICES = {"true": True, "false": False}


@dataclass(frozen=True)
class FileOptions:
    """A file preview's format options, as typed (empty: the service's default)."""

    file_type: str = ""
    column_delimiter: str = ""
    compression_type: str = ""
    header: str = ""

    def query(self) -> dict[str, str]:
        return {
            key: value
            for key, value in (
                ("file_type", self.file_type),
                ("column_delimiter", self.column_delimiter),
                ("compression_type", self.compression_type),
                ("header", self.header),
            )
            if value
        }

    def explore_fields(self) -> dict[str, Any]:
        """The options as `ExploreQuery` takes them: None where nothing was typed."""
        return {
            "file_type": self.file_type or None,
            "column_delimiter": self.column_delimiter or None,
            "compression_type": self.compression_type or None,
            "header": _HEADER_CHOICES.get(self.header),
        }
