"""Two writers that read the same version: the second update is refused, not lost."""

from __future__ import annotations

import pytest
from sqlalchemy.orm.exc import StaleDataError

from sluice.domain.tenancy import Tenant
from sluice.services.datasets import datasets
from sluice.store import tenants
from sluice.store.db import make_engine, make_session_factory, transaction, upgrade_schema


def test_second_writer_on_a_stale_version_gets_stale_data_error(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        upgrade_schema(engine)
        sessions = make_session_factory(engine)
        with transaction(sessions) as session:
            org = tenants.create_org(session, "Org")
            sandbox = tenants.find_sandbox(session, org.id, "prod")
            assert sandbox is not None
            tenant = Tenant(org.id, sandbox.id, "prod", "client")
            row = datasets.add(session, tenant, "d", {"description": ""})
            dataset_id, first_etag = row.id, row.etag

        first, second = sessions(), sessions()
        try:
            mine = datasets.get(first, tenant, dataset_id)
            theirs = datasets.get(second, tenant, dataset_id)
            assert mine.etag == theirs.etag == first_etag
            mine.name = "mine"
            datasets.touch(mine, tenant)
            first.commit()
            theirs.name = "theirs"
            datasets.touch(theirs, tenant)
            with pytest.raises(StaleDataError):
                second.commit()
        finally:
            first.close()
            second.close()

        with transaction(sessions) as session:
            final = datasets.get(session, tenant, dataset_id)
            assert final.name == "mine"
            assert final.etag not in (first_etag, "")
    finally:
        engine.dispose()
