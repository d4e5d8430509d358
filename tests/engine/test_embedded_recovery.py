"""The embedded server's identity and restart recovery, on both metadata databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from sluice.domain.tenancy import Tenant
from sluice.engine import claims
from sluice.engine.embedded_recovery import recover, take_identity
from support.run_rows import add_runs, get_run, make_flow

LEASE_MS = 600_000


def test_a_restart_releases_only_its_own_claims_at_once(
    sessions: sessionmaker[Session], tenant: Tenant, tmp_path: Path
) -> None:
    identity = take_identity(tmp_path)
    assert identity is not None
    try:
        flow_id = make_flow(sessions, tenant)
        add_runs(sessions, flow_id, 2)
        own = claims.claim_due_run(sessions, f"{identity.name}:0", lease_ms=LEASE_MS)
        other = claims.claim_due_run(sessions, "other-host:1:abc:0", lease_ms=LEASE_MS)
        assert own is not None and other is not None
        # Nothing is claimable while both leases run...
        assert claims.claim_due_run(sessions, "third:0", lease_ms=LEASE_MS) is None
        lake = tmp_path / "lake"
        assert recover(sessions, identity, lake).claims_released == 1
        # ...then only the restarted server's own run is, and with a new claim token.
        again = claims.claim_due_run(sessions, f"{identity.name}:1", lease_ms=LEASE_MS)
        assert again is not None and again.run_id == own.run_id and again.token != own.token
        assert get_run(sessions, own.run_id).attempt == 2
        assert get_run(sessions, other.run_id).claimed_by == "other-host:1:abc:0"
        assert claims.claim_due_run(sessions, "third:0", lease_ms=LEASE_MS) is None
    finally:
        identity.close()


def test_the_identity_survives_a_restart_and_is_held_by_one_process_at_a_time(
    tmp_path: Path,
) -> None:
    first = take_identity(tmp_path)
    assert first is not None
    name = first.name
    # A second server on the same data dir while the first lives gets no identity.
    assert take_identity(tmp_path) is None
    first.close()
    restarted = take_identity(tmp_path)
    assert restarted is not None
    try:
        assert restarted.name == name
        assert (tmp_path / "worker-identity").stat().st_mode & 0o777 == 0o600
    finally:
        restarted.close()
