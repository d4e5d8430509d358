"""A create's 201 must mean "committed": the id it returns is readable by the next request.

The tutorial's client posts a run and immediately follows it by id. To make the ordering
observable without timing guesses, the test holds the request's COMMIT open: a deferred
constraint trigger, added to the throwaway PostgreSQL metadata database, waits at commit
time for an advisory lock the test holds. While that commit is visibly blocked (its backend
waits on the lock in pg_locks), no 201 may have reached the client.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from e2e_flows import postgres_table_flow
from processes import (
    Processes,
    ServerProcess,
    metadata_database,
    pg_source,
    provision_client,
    scaled_out_env,
    source_table,
    wait_for,
)

from sluice.client import SluiceApiError, SluiceClient

pytestmark = pytest.mark.e2e

# How long the test listens for a premature response once the commit is blocked. Under the
# bug the response was sent before the commit even began, so it is already in the socket.
LISTEN_SECONDS = 3.0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path, str]]:
    with metadata_database() as url, Processes(tmp_path) as processes:
        env = scaled_out_env(tmp_path / "data", url)
        server = processes.serve(env, "--no-workers", "--no-scheduler", "--no-demo")
        yield server, provision_client(env, tmp_path / "credentials.json"), url


@pytest.fixture
def table() -> Iterator[str]:
    with source_table("e2e_commit_order") as name:
        pg_source(f"CREATE TABLE {name} (id integer PRIMARY KEY, updated_at timestamptz)")
        yield name


def test_post_runs_answers_only_after_its_transaction_committed(
    stack: tuple[ServerProcess, Path, str], table: str
) -> None:
    server, credentials, metadata_url = stack
    dsn = metadata_url.replace("postgresql+psycopg://", "postgresql://")
    key = random.randint(1, 2**31 - 1)
    with SluiceClient.from_credentials_file(credentials, server.url, timeout=60) as client:
        flow = postgres_table_flow(client, table)
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f"""
                CREATE FUNCTION e2e_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_advisory_lock_shared({key});
                    PERFORM pg_advisory_unlock_shared({key});
                    RETURN NULL;
                END $$;
                CREATE CONSTRAINT TRIGGER e2e_hold_commit AFTER INSERT ON runs
                    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION e2e_hold_commit();
            """)
        body = {"flowId": flow.flow_id, "params": {
            "startTime": "1663735590", "windowStartTime": "1651584991",
            "windowEndTime": "16515859567", "deltaColumn": {"name": "updated_at"}}}
        answer: dict[str, Any] = {}

        def post() -> None:
            answer["created"] = client.post("runs", body)

        with psycopg.connect(dsn, autocommit=True) as gate:
            gate.execute("SELECT pg_advisory_lock(%s)", [key])
            poster = threading.Thread(target=post, daemon=True)
            poster.start()
            wait_for("the run's COMMIT to wait on the test's lock", lambda: gate.execute(
                "SELECT true FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
            ).fetchone(), server, timeout=60)
            poster.join(LISTEN_SECONDS)
            premature = dict(answer)
            seen_meanwhile = None
            if premature:
                run_id = premature["created"]["items"][0]["id"]
                try:
                    seen_meanwhile = client.get_item(f"runs/{run_id}")["id"]
                except SluiceApiError as error:
                    seen_meanwhile = error.code
            gate.execute("SELECT pg_advisory_unlock(%s)", [key])
        poster.join(60)
        assert not poster.is_alive()
        assert not premature, (
            f"201 {premature} arrived while its COMMIT was still blocked; GET of that run "
            f"meanwhile: {seen_meanwhile}")
        run_id = answer["created"]["items"][0]["id"]
        assert client.get_item(f"runs/{run_id}")["id"] == run_id
