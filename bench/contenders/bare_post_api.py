"""Bare contender of `POST /runs`: the FastAPI + SQLAlchemy insert endpoint a tutorial builds.

Usage: bare_post_api.py DATABASE_URL PORT

One route, `POST /data/foundation/flowservice/runs`: the body (the same JSON as Sluice's
`POST /runs` gets) validated by a Pydantic model, one row inserted into `bare_runs` through
a SQLAlchemy ORM session (one per request, committed before the answer), `201` with the new
id and etag. No authentication, tenancy, idempotency keys, flow lookup or outbox event: the
floor of "FastAPI + SQLAlchemy + PostgreSQL" that Sluice's own `POST /runs` is compared with.
Served by uvicorn in this one process, on the HTTP stack `sluice serve` uses.
"""

# No `from __future__ import annotations`: FastAPI reads the route's annotations at run
# time, and the session dependency is local to create_app.
import sys
import time
import uuid
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import BigInteger, String, create_engine
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from sluice.cli.serve import http_stack


class Base(DeclarativeBase):
    pass


class BareRun(Base):
    __tablename__ = "bare_runs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    flow_id: Mapped[str] = mapped_column(String(36), index=True)
    etag: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[int] = mapped_column(BigInteger)
    doc: Mapped[dict[str, Any]] = mapped_column(JSONB)


class DeltaColumn(BaseModel):
    name: str


class RunParams(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start_time: str = Field(alias="startTime")
    window_start_time: str = Field(alias="windowStartTime")
    window_end_time: str = Field(alias="windowEndTime")
    delta_column: DeltaColumn | None = Field(default=None, alias="deltaColumn")


class NewRun(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    flow_id: str = Field(alias="flowId", min_length=1)
    params: RunParams


def create_app(database_url: str) -> FastAPI:
    engine = create_engine(database_url, pool_size=10, max_overflow=20)
    Base.metadata.create_all(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)

    def get_session() -> Any:
        with sessions() as session:
            yield session

    app = FastAPI()

    @app.post("/data/foundation/flowservice/runs", status_code=201)
    def create_run(
        body: NewRun, session: Annotated[Session, Depends(get_session)]
    ) -> dict[str, Any]:
        run = BareRun(
            id=str(uuid.uuid4()),
            flow_id=body.flow_id,
            etag=uuid.uuid4().hex,
            status="scheduled",
            created_at=int(time.time() * 1000),
            doc={"params": body.params.model_dump(by_alias=True, exclude_none=True)},
        )
        session.add(run)
        session.commit()
        return {"items": [{"id": run.id, "etag": run.etag}]}

    return app


def main() -> None:
    database_url, port = sys.argv[1], int(sys.argv[2])
    stack = http_stack()
    uvicorn.run(create_app(database_url), host="127.0.0.1", port=port, http=stack.http,
                loop=stack.loop, log_level="warning")


if __name__ == "__main__":
    main()
