"""`credentials.json`: what a client needs to get a token and address one sandbox."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Credentials:
    """What `credentials.json` holds: enough to get a token and address one sandbox."""

    org_id: str
    client_id: str
    client_secret: str = field(repr=False)
    sandbox_name: str = "prod"

    @classmethod
    def read(cls, path: Path) -> Credentials:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError(f"{path} does not hold a JSON object")
        missing = [k for k in ("orgId", "clientId", "clientSecret") if not data.get(k)]
        if missing:
            raise ValueError(f"{path} lacks {', '.join(missing)}")
        return cls(
            str(data["orgId"]),
            str(data["clientId"]),
            str(data["clientSecret"]),
            str(data.get("sandboxName") or "prod"),
        )

    def to_json(self) -> str:
        return (
            json.dumps(
                {
                    "orgId": self.org_id,
                    "clientId": self.client_id,
                    "clientSecret": self.client_secret,
                    "sandboxName": self.sandbox_name,
                },
                indent=2,
            )
            + "\n"
        )
