"""`client.mapping_sets`: versioned mapping sets (`/data/foundation/conversion/mappingSets`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sluice.client.resources import ReadableCollection
from sluice.client.transport import ApiTransport, JsonObject

MAPPING_SETS_PATH = "/data/foundation/conversion/mappingSets"


@dataclass(frozen=True)
class MappingSetVersion:
    """What creating or replacing a mapping set answers."""

    id: str
    etag: str
    version: int

    @classmethod
    def from_body(cls, body: Any) -> MappingSetVersion:
        return cls(str(body["id"]), str(body.get("etag", "")), int(body["version"]))


class MappingSets(ReadableCollection):
    """Create, read (any version), replace (a new version) and delete mapping sets."""

    def __init__(self, api: ApiTransport) -> None:
        super().__init__(api, MAPPING_SETS_PATH)

    def create(self, body: Mapping[str, Any]) -> MappingSetVersion:
        """`body`: `{"name", "description", "outputSchema": {"dataSetId"}, "mappings": [...]}`;
        the new set is version 0."""
        return MappingSetVersion.from_body(self.api.post(self.path, dict(body)))

    def get_version(self, mapping_id: str, version: int) -> JsonObject:
        """One older (or the latest) version of a mapping set."""
        body = self.api.get(f"{self.path}/{mapping_id}", {"version": version})
        item: JsonObject = body["items"][0]
        return item

    def replace(
        self, mapping_id: str, body: Mapping[str, Any], *, etag: str | None = None
    ) -> MappingSetVersion:
        """Store `body` as the next version. Without `etag` the current one is read first
        (last writer wins then; pass the etag you read to refuse a change made meanwhile)."""
        current = etag if etag is not None else str(self.get(mapping_id)["etag"])
        response = self.api.request(
            "PUT", f"{self.path}/{mapping_id}", json=dict(body), headers={"If-Match": current}
        )
        return MappingSetVersion.from_body(response.json())

    def delete(self, mapping_id: str) -> None:
        """Refused (1447) while a flow uses the mapping set."""
        self.api.delete(f"{self.path}/{mapping_id}")
