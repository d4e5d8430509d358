"""Who is asking: the org, sandbox and API client a request acts for."""

from __future__ import annotations

import re
from dataclasses import dataclass

SANDBOX_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DEFAULT_SANDBOX = "prod"


@dataclass(frozen=True)
class Tenant:
    """Every repository call takes one of these, so no query can forget the tenant."""

    org_id: str
    sandbox_id: str
    sandbox_name: str
    client_id: str


def is_valid_sandbox_name(name: str) -> bool:
    return bool(SANDBOX_NAME_PATTERN.fullmatch(name))
