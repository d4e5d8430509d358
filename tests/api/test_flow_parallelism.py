"""The `parallelism` flow option (parts of a window read at once): an integer 1..16, or a
coded 400 and no flow."""

from __future__ import annotations

from pathlib import Path

from sluice.config import Settings
from support.api_bodies import FS, created_id
from support.callers import Caller, error_code
from support.flow_bodies import flow_body, table_flow_parts


def test_parallelism_is_a_checked_integer(caller: Caller, settings: Settings) -> None:
    _base, source, target_id = table_flow_parts(caller, Path(settings.allowed_file_roots[0]))
    before = caller.get(f"{FS}/flows").json()["items"]
    for bad in (0, -1, 17, 2.5, "4", True, None):
        refused = caller.post(f"{FS}/flows", json=flow_body(
            source, target_id, options={"parallelism": bad}))
        assert refused.status_code == 400, bad
        assert error_code(refused) == "FLOW-1000-400"
        assert "parallelism" in refused.text
    assert caller.get(f"{FS}/flows").json()["items"] == before  # nothing was created
    for good in (1, 16):
        flow_id = created_id(caller.post(f"{FS}/flows", json=flow_body(
            source, target_id, options={"parallelism": good})))
        flow = caller.get(f"{FS}/flows/{flow_id}").json()["items"][0]
        assert flow["options"]["parallelism"] == good
