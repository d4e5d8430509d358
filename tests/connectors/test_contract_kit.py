"""Every connector Sluice knows, built-in or installed, passes the contract kit
(`sluice.testing`) against its real server: PostgreSQL, MariaDB, SQLite, a local folder,
S3 (moto), SFTP, Azure Blob (Azurite), a REST server, the data-lake target, and the example
third-party connector found through its entry point."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pyarrow as pa
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.data_lake.spec import CONNECTOR as DATA_LAKE
from sluice.connectors.files.azure_blob import CONNECTOR as AZURE_BLOB
from sluice.connectors.files.local import CONNECTOR as LOCAL_FILES
from sluice.connectors.files.s3 import CONNECTOR as S3
from sluice.connectors.files.sftp import CONNECTOR as SFTP
from sluice.connectors.mysql.spec import CONNECTOR as MYSQL
from sluice.connectors.postgresql.spec import CONNECTOR as POSTGRESQL
from sluice.connectors.reading import SOURCE_FILE_COLUMN
from sluice.connectors.registry import all_connectors, find_connector
from sluice.connectors.rest.spec import CONNECTOR as REST
from sluice.connectors.sql_database.spec import CONNECTOR as SQL_DATABASE
from sluice.connectors.sqlite.spec import CONNECTOR as SQLITE
from sluice.domain.windows import Window
from sluice.testing import ContractCase, WindowCase, check_connector
from support.azurite import Azurite
from support.connector_reads import FAKE_PASSWORD, PG_DATABASE, pg_auth, pg_execute, write_file
from support.mariadb import MariaTables, my_auth, my_execute, quoted
from support.rest_server import API_KEY, running_rest_server
from support.s3_server import S3Server
from support.sftp_server import running_sftp_server

START = 1_714_521_600  # 2024-05-01T00:00:00Z
END = START + 3600
EXAMPLE_SPEC_ID = "3f1c9b0e-2a47-4d5e-8b6f-0c9d8e7a6b51"
WRONG_SECRET = "Wrong-S3cret/Contract+Kit"
# Rows on and around the edges of [START, END): ids 2 and 3 are in, 1 and 4 are out.
EDGES = {1: START - 1, 2: START, 3: END - 1, 4: END}
INSIDE, OUTSIDE = frozenset({2, 3}), frozenset({1, 4})


def table_source(name: str) -> dict[str, Any]:
    return {"params": {"tableName": name}}


def file_source(path: str) -> dict[str, Any]:
    return {"data": {"format": "delimited"}, "params": {"path": path}}


def table_windows(name: str) -> WindowCase:
    return WindowCase(table_source(name), Window(START, END), "id", INSIDE, OUTSIDE, "at")


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture
def pg_edges(pg_table: Callable[..., str]) -> str:
    table = pg_table("id integer, at timestamptz, label text")
    for key, at in EDGES.items():
        pg_execute(f'INSERT INTO "{table}" VALUES (%s, to_timestamp(%s), %s)', (key, at, f"r{key}"))
    return table


def postgresql_case(context: ConnectorContext, pg_edges: str) -> ContractCase:
    return ContractCase(
        connector=POSTGRESQL,
        context=context,
        auth=pg_auth(),
        refused_auth=pg_auth(database="sluice_no_such_database"),
        source=table_source(pg_edges),
        expected_types={"id": pa.int32(), "at": pa.timestamp("us", tz="UTC"), "label": pa.string()},
        windows=table_windows(pg_edges),
        missing_source=table_source("sluice_no_such_table"),
        missing_place=("schema", "sluice_no_such_schema"),
        secrets=(FAKE_PASSWORD,),
    )


def sql_database_case(context: ConnectorContext, pg_edges: str) -> ContractCase:
    url = f"postgresql+psycopg://postgres:{quote(FAKE_PASSWORD, safe='')}@127.0.0.1:5432"
    return ContractCase(
        connector=SQL_DATABASE,
        context=context,
        auth={"url": f"{url}/{PG_DATABASE}"},
        refused_auth={"url": f"{url}/sluice_no_such_database"},
        source=table_source(pg_edges),
        expected_types={"id": pa.int32(), "label": pa.string()},
        windows=table_windows(pg_edges),
        missing_source=table_source("sluice_no_such_table"),
        missing_place=("schema", "sluice_no_such_schema"),
        secrets=(FAKE_PASSWORD, quote(FAKE_PASSWORD, safe="")),
    )


@pytest.fixture
def maria() -> Iterator[MariaTables]:
    tables = MariaTables()
    yield tables
    tables.drop_all()


def mysql_case(context: ConnectorContext, maria: MariaTables) -> ContractCase:
    table = maria.table("id INT, at DATETIME, label VARCHAR(20)")
    for key, at in EDGES.items():
        my_execute(f"INSERT INTO {quoted(table)} VALUES (%s, %s, %s)", (key, iso(at), f"r{key}"))
    return ContractCase(
        connector=MYSQL,
        context=context,
        auth=my_auth(),
        refused_auth=my_auth(username="sluice_nobody", password=FAKE_PASSWORD),
        source=table_source(table),
        expected_types={"id": pa.int32(), "label": pa.string()},
        windows=table_windows(table),
        missing_source=table_source("sluice_no_such_table"),
        missing_place=("schema", "sluice_no_such_database"),
        secrets=(FAKE_PASSWORD,),
    )


def sqlite_case(context: ConnectorContext, allowed_root: Path) -> ContractCase:
    import sqlite3

    path = allowed_root / "edges.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE edges (id INTEGER, at DATETIME, label TEXT)")
        connection.executemany(
            "INSERT INTO edges VALUES (?, ?, ?)", [(k, iso(at), f"r{k}") for k, at in EDGES.items()]
        )
    connection.close()
    (allowed_root / "junk.db").write_text("not a database")
    return ContractCase(
        connector=SQLITE,
        context=context,
        auth={"path": str(path)},
        refused_auth={"path": str(allowed_root / "junk.db")},
        source=table_source("edges"),
        expected_types={"id": pa.int64(), "at": pa.timestamp("us"), "label": pa.string()},
        windows=table_windows("edges"),
        missing_source=table_source("sluice_no_such_table"),
        missing_place=("schema", "main"),
    )


def file_windows(path: str) -> WindowCase:
    return WindowCase(
        file_source(path),
        Window(START, END),
        SOURCE_FILE_COLUMN,
        frozenset({"w/2.csv", "w/3.csv"}),
        frozenset({"w/1.csv", "w/4.csv"}),
    )


# A file that claims to be Parquet and is not: a terminal, coded read error (a missing file
# is not one: a path or glob matching nothing reads no rows).
NOT_PARQUET = ("bad/x.parquet", "PAR1 not really parquet")


def file_case(connector: Any, context: ConnectorContext, auth: dict[str, Any],
              refused: dict[str, Any], windows: WindowCase, secrets: tuple[str, ...] = ()
              ) -> ContractCase:
    return ContractCase(
        connector=connector,
        context=context,
        auth=auth,
        refused_auth=refused,
        source=file_source("w/*.csv"),
        expected_types={"id": pa.int64(), "label": pa.string()},
        windows=windows,
        missing_source={"data": {"format": "parquet"}, "params": {"path": "bad"}},
        missing_place=("folder", "sluice-no-such-folder"),
        secrets=secrets,
    )


def local_files_case(context: ConnectorContext, allowed_root: Path) -> ContractCase:
    for key, at in EDGES.items():
        write_file(allowed_root, f"w/{key}.csv", f"id,label\n{key},r{key}\n", at)
    write_file(allowed_root, *NOT_PARQUET)
    return file_case(LOCAL_FILES, context, {"rootPath": str(allowed_root)},
                     {"rootPath": str(allowed_root / "missing")}, file_windows("w/*.csv"))


def sftp_case(context: ConnectorContext, tmp_path: Path) -> Iterator[ContractCase]:
    with running_sftp_server(tmp_path / "sftp") as server:
        for key, at in EDGES.items():
            server.write(f"w/{key}.csv", f"id,label\n{key},r{key}\n", at)
        server.write(*NOT_PARQUET)
        yield file_case(SFTP, context, server.password_auth(),
                        server.password_auth(password=WRONG_SECRET), file_windows("w/*.csv"),
                        (server.password, WRONG_SECRET))


def store_windows(put: Callable[[str, str], float]) -> WindowCase:
    """Edges on a store that sets modification times itself: `w/2.csv` is put, then `w/4.csv`
    once the clock is in a later second; the window runs from the first's second to the
    second's, so one file sits on (or just after) each edge."""
    put(*NOT_PARQUET)
    first = put("w/2.csv", "id,label\n2,r2\n")
    second = put("w/4.csv", "id,label\n4,r4\n")
    while math.floor(second) <= math.floor(first):
        time.sleep(0.2)  # waits for the store's clock; nothing is measured
        second = put("w/4.csv", "id,label\n4,r4\n")
    window = Window(math.floor(first), math.floor(second))
    return WindowCase(file_source("w/*.csv"), window, SOURCE_FILE_COLUMN,
                      frozenset({"w/2.csv"}), frozenset({"w/4.csv"}))


def s3_case(context: ConnectorContext, s3: S3Server) -> ContractCase:
    bucket = s3.new_bucket("contract")
    windows = store_windows(lambda key, body: s3.put(bucket, key, body))
    return file_case(S3, context, s3.auth(bucketName=bucket),
                     s3.auth(bucketName=bucket, s3SecretKey=WRONG_SECRET), windows,
                     (s3.secret_key, WRONG_SECRET))


def azure_blob_case(context: ConnectorContext, azurite: Azurite) -> ContractCase:
    container = azurite.new_container("contract")
    windows = store_windows(lambda name, body: azurite.upload(container, name, body))
    wrong_key = "V3JvbmctUzNjcmV0L0NvbnRyYWN0K0tpdA=="  # base64, as account keys are
    return file_case(AZURE_BLOB, context, azurite.account_key_auth(container=container),
                     azurite.account_key_auth(container=container, accountKey=wrong_key),
                     windows, (azurite.account_key, wrong_key))


def rest_case(context: ConnectorContext) -> Iterator[ContractCase]:
    records = [{"id": key, "updated_at": iso(at).replace(" ", "T") + "Z", "label": f"r{key}"}
               for key, at in EDGES.items()]
    with running_rest_server(records) as server:
        yield ContractCase(
            connector=REST,
            context=context,
            auth={"baseUrl": server.base("key"), "apiKey": API_KEY},
            refused_auth={"baseUrl": server.base("key"), "apiKey": WRONG_SECRET},
            source={"data": {"format": "tabular"}, "params": {"endpoint": "plain"}},
            expected_types={"id": pa.int64(), "label": pa.string()},
            windows=WindowCase(
                {"data": {"format": "tabular"}, "params": {"endpoint": "plain"}},
                Window(START, END), "id", INSIDE, OUTSIDE, "updated_at"),
            missing_source={"data": {"format": "tabular"},
                            "params": {"endpoint": "sluice-no-such-endpoint"}},
            missing_place=("rest", "plain"),
            secrets=(API_KEY, WRONG_SECRET),
        )


def data_lake_case(context: ConnectorContext) -> ContractCase:
    return ContractCase(connector=DATA_LAKE, context=context, auth={}, refused_auth=None)


def example_case(context: ConnectorContext) -> ContractCase:
    connector = find_connector(EXAMPLE_SPEC_ID)
    assert connector is not None, "examples/sluice-calendar is not installed (make install-dev)"
    at = lambda epoch: datetime.fromtimestamp(epoch, UTC)  # noqa: E731
    hours = {"params": {"tableName": "hours"}}
    return ContractCase(
        connector=connector,
        context=context,
        auth={"token": "cal-Contract-Token", "startDate": "2024-04-30"},
        refused_auth={"token": WRONG_SECRET, "startDate": "2024-04-30"},
        source=hours,
        expected_types={"at": pa.timestamp("us", tz="UTC"), "hour": pa.int8()},
        windows=WindowCase(hours, Window(START, START + 3 * 3600), "at",
                           frozenset({at(START), at(START + 7200)}),
                           frozenset({at(START - 3600), at(START + 3 * 3600)}), "at"),
        missing_source={"params": {"tableName": "weeks"}},
        missing_place=("schema", "hours"),
        secrets=("cal-Contract-Token", WRONG_SECRET),
    )


CASES: dict[str, Callable[..., Any]] = {
    "postgresql": postgresql_case,
    "mysql": mysql_case,
    "sqlite": sqlite_case,
    "sql_database": sql_database_case,
    "local_files": local_files_case,
    "s3": s3_case,
    "sftp": sftp_case,
    "azure_blob": azure_blob_case,
    "rest": rest_case,
    "data_lake": data_lake_case,
    "example": example_case,
}


@pytest.fixture(params=sorted(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[ContractCase]:
    """The case of one connector, built on its real server (fixtures taken by name)."""
    build = CASES[request.param]
    names = build.__code__.co_varnames[: build.__code__.co_argcount]
    made = build(*(request.getfixturevalue(name) for name in names))
    if isinstance(made, ContractCase):
        yield made
        return
    yield from made  # a server running while the case is checked


def test_every_connector_passes_the_contract_kit(case: ContractCase) -> None:
    check_connector(case)


def test_every_registered_connector_has_a_case() -> None:
    covered = {c.spec.id for c in (POSTGRESQL, MYSQL, SQLITE, SQL_DATABASE, LOCAL_FILES, S3, SFTP,
                                   AZURE_BLOB, REST, DATA_LAKE)} | {EXAMPLE_SPEC_ID}
    missing = [c.spec.name for c in all_connectors() if c.spec.id not in covered]
    assert missing == []
