"""The example connector passes Sluice's contract kit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
from sluice_calendar import CONNECTOR

from sluice.connectors.contract import ConnectorContext
from sluice.domain.windows import Window
from sluice.testing import ContractCase, WindowCase, check_connector

START = int(datetime(2024, 5, 1, tzinfo=UTC).timestamp())
HOUR = 3600


def case(tmp_path: Path) -> ContractCase:
    auth = {"token": "cal-Secret-Token-1", "startDate": "2024-05-01"}
    hours = {"params": {"tableName": "hours"}}
    at = lambda hour: datetime.fromtimestamp(START + hour * HOUR, UTC)  # noqa: E731
    return ContractCase(
        connector=CONNECTOR,
        context=ConnectorContext((tmp_path,), tmp_path / "lake", "sqlite:///unused.db"),
        auth=auth,
        refused_auth={"token": "Wrong-Secret-Token-2", "startDate": "2024-05-01"},
        source=hours,
        expected_types={"at": pa.timestamp("us", tz="UTC"), "hour": pa.int8()},
        windows=WindowCase(
            source=hours,
            window=Window(START + 2 * HOUR, START + 5 * HOUR),
            key="at",
            inside=frozenset({at(2), at(4)}),
            outside=frozenset({at(1), at(5)}),
            delta_column="at",
        ),
        missing_source={"params": {"tableName": "weeks"}},
        missing_place=("schema", "hours"),
        secrets=("cal-Secret-Token-1", "Wrong-Secret-Token-2"),
    )


def test_the_calendar_passes_the_contract_kit(tmp_path: Path) -> None:
    check_connector(case(tmp_path))
