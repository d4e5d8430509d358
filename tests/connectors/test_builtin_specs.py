"""Every built-in spec: well-formed wire shape and JSON Schemas that accept and refuse
the right params."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from jsonschema import Draft7Validator

from sluice.connectors.contract import ConnectionSpec, ConnectorContext, FunctionConnector
from sluice.connectors.data_lake import spec as data_lake
from sluice.connectors.errors import UnsupportedOperationError
from sluice.connectors.files import local_spec as local_files
from sluice.connectors.postgresql import connection_spec as postgresql
from sluice.connectors.reading import ReadRequest
from sluice.connectors.registry import all_specs, builtin_connectors, find_spec
from sluice.connectors.sqlite import connection_spec as sqlite


def ids(spec: ConnectionSpec) -> str:
    return spec.name


def is_valid(schema: Any, instance: Any) -> bool:
    return Draft7Validator(schema).is_valid(instance)


def test_every_module_in_the_registry_loads_with_a_unique_uuid() -> None:
    specs = [c.spec for c in builtin_connectors()]
    assert all_specs()[: len(specs)] == tuple(specs)  # built-ins first, then installed ones
    assert [s.name for s in specs] == [
        "PostgreSQL", "SQLite", "Local Files", "MySQL", "SQL Database (SQLAlchemy)", "Amazon S3",
        "SFTP", "Azure Blob Storage", "Data Lake", "Generic REST API"]
    assert len({s.id for s in specs}) == len(specs)
    for spec in specs:
        assert str(uuid.UUID(spec.id)) == spec.id
        assert find_spec(spec.id) is spec


@pytest.mark.parametrize(("name", "reference_id"), [
    ("Amazon S3", "ecadc60c-7455-4d87-84dc-2a0e293d997b"),
    ("Azure Blob Storage", "4c10e202-c428-4796-9208-5f1f5732b1cf"),
])
def test_cloud_storage_specs_keep_the_reference_ids(name: str, reference_id: str) -> None:
    spec = find_spec(reference_id)
    assert spec is not None and spec.name == name and spec.source_kind == "file"


def test_every_source_spec_can_be_read_and_explored(context: ConnectorContext) -> None:
    for connector in builtin_connectors():
        spec = connector.spec
        assert isinstance(connector, FunctionConnector), spec.name
        if spec.source_kind == "target":
            assert connector.opener is None and connector.lister is None
            with pytest.raises(UnsupportedOperationError, match="cannot be read"):
                connector.read(context, {}, {}, ReadRequest(window=None))
            continue
        assert callable(connector.opener), spec.name
        assert callable(connector.lister), spec.name
        checks_delta = connector.delta_checker is not FunctionConnector.delta_checker
        assert checks_delta == (spec.source_kind == "table"), spec.name


def test_data_lake_keeps_the_reference_id() -> None:
    assert data_lake.SPEC.id == "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
    assert data_lake.SPEC.auth_specs == ()


@pytest.mark.parametrize("spec", all_specs(), ids=ids)
def test_wire_shape_has_id_name_and_auth_spec(spec: ConnectionSpec) -> None:
    wire = spec.to_wire()
    assert wire["id"] == spec.id and wire["name"] == spec.name
    assert wire["authSpec"] == [a.to_wire() for a in spec.auth_specs]
    assert wire["attributes"]["category"] == {"key": spec.category}
    spec_key = "targetSpec" if spec.source_kind == "target" else "sourceSpec"
    Draft7Validator.check_schema(wire[spec_key]["spec"])


@pytest.mark.parametrize("spec", all_specs(), ids=ids)
def test_every_schema_is_valid_draft7(spec: ConnectionSpec) -> None:
    schemas = [spec.params_schema, *(a.schema for a in spec.auth_specs)]
    if spec.data_schema is not None:
        schemas.append(spec.data_schema)
    for schema in schemas:
        Draft7Validator.check_schema(schema)


@pytest.mark.parametrize("spec", all_specs(), ids=ids)
def test_auth_params_refuse_unknown_keys(spec: ConnectionSpec) -> None:
    for auth in spec.auth_specs:
        assert auth.schema["additionalProperties"] is False


def test_secret_fields_are_the_password_ones() -> None:
    assert postgresql.CONNECTION_STRING_AUTH.secret_fields == {"connectionString"}
    assert postgresql.BASIC_AUTH.secret_fields == {"password"}
    assert sqlite.FILE_PATH_AUTH.secret_fields == frozenset()
    assert local_files.LOCAL_FOLDER_AUTH.secret_fields == frozenset()


AUTH_CASES = [
    (postgresql.CONNECTION_STRING_AUTH, {"connectionString": "postgresql://u@h/db"}, True),
    (postgresql.CONNECTION_STRING_AUTH, {"connectionString": ""}, False),
    (postgresql.CONNECTION_STRING_AUTH, {"connectionString": "x", "host": "h"}, False),
    (postgresql.BASIC_AUTH, {"host": "h", "database": "d", "username": "u"}, True),
    (postgresql.BASIC_AUTH, {"host": "h", "port": 6432, "database": "d", "username": "u",
                             "password": "p", "sslMode": "verify-full"}, True),
    (postgresql.BASIC_AUTH, {"host": "h", "port": "5432", "database": "d", "username": "u"}, False),
    (postgresql.BASIC_AUTH, {"host": "h", "port": 70000, "database": "d", "username": "u"}, False),
    (postgresql.BASIC_AUTH, {"host": "h", "database": "d", "username": "u", "sslMode": "on"},
     False),
    (postgresql.BASIC_AUTH, {"host": "h", "database": "d"}, False),
    (postgresql.BASIC_AUTH, {"host": "h", "database": "d", "username": "u", "pwd": "x"}, False),
    (sqlite.FILE_PATH_AUTH, {"path": "/data/shop.db"}, True),
    (sqlite.FILE_PATH_AUTH, {}, False),
    (sqlite.FILE_PATH_AUTH, {"path": "/data/shop.db", "mode": "rw"}, False),
    (local_files.LOCAL_FOLDER_AUTH, {"rootPath": "/data/in"}, True),
    (local_files.LOCAL_FOLDER_AUTH, {"rootPath": 3}, False),
    (local_files.LOCAL_FOLDER_AUTH, {"path": "/data/in"}, False),
]


@pytest.mark.parametrize(("auth", "params", "valid"), AUTH_CASES)
def test_auth_schema_accepts_good_and_refuses_bad_params(auth: Any, params: Any,
                                                         valid: bool) -> None:
    assert is_valid(auth.schema, params) is valid


TABLE_COLUMNS = [{"name": "Datefield", "type": "string", "meta:xdmType": "date-time",
                  "xdm": {"type": "string", "format": "date-time"}}]
PARAMS_CASES = [
    (postgresql.SPEC, {"tableName": "orders"}, True),
    (postgresql.SPEC, {"tableName": "test1.Mytable", "columns": TABLE_COLUMNS,
                       "cdcEnabled": True}, True),
    (postgresql.SPEC, {"tableName": "a.b.c"}, False),
    (postgresql.SPEC, {"tableName": ""}, False),
    (postgresql.SPEC, {"tableName": "orders", "cdcEnabled": "yes"}, False),
    (postgresql.SPEC, {"tableName": "orders", "columns": [{"type": "string"}]}, False),
    (postgresql.SPEC, {"columns": TABLE_COLUMNS}, False),
    (sqlite.SPEC, {"tableName": "order items", "columns": TABLE_COLUMNS}, True),
    (sqlite.SPEC, {"tableName": ""}, False),
    (sqlite.SPEC, {}, False),
    (local_files.SPEC, {"path": "/dir/*.tsv", "recursive": "true"}, True),
    (local_files.SPEC, {"path": "sales/2024/**/*.csv", "recursive": True}, True),
    (local_files.SPEC, {"path": "a..b/file..csv"}, True),
    (local_files.SPEC, {"path": "../etc/passwd"}, False),
    (local_files.SPEC, {"path": "/dir/../../etc"}, False),
    (local_files.SPEC, {"path": "/dir/.."}, False),
    (local_files.SPEC, {"path": "/dir", "recursive": "yes"}, False),
    (local_files.SPEC, {"path": "/dir", "recursive": 1}, False),
    (local_files.SPEC, {"recursive": True}, False),
    (data_lake.SPEC, {"dataSetId": "5f0e8d1f3c2a4b0019a2b3c4"}, True),
    (data_lake.SPEC, {"dataSetId": ""}, False),
    (data_lake.SPEC, {}, False),
]


@pytest.mark.parametrize(("spec", "params", "valid"), PARAMS_CASES)
def test_params_schema_accepts_good_and_refuses_bad_params(spec: ConnectionSpec, params: Any,
                                                           valid: bool) -> None:
    assert is_valid(spec.params_schema, params) is valid


DATA_CASES = [
    ({"format": "delimited"}, True),
    ({"format": "delimited", "columnDelimiter": "\t", "header": False,
      "properties": {"compressionType": "gzip"}}, True),
    ({"format": "parquet"}, True),
    ({"format": "json", "properties": {"compressionType": "tarGzip"}}, True),
    ({"format": "csv"}, False),
    ({"columnDelimiter": ","}, False),
    ({"format": "delimited", "columnDelimiter": ";;"}, False),
    ({"format": "delimited", "columnDelimiter": ""}, False),
    ({"format": "delimited", "properties": {"compressionType": "zip"}}, False),
    ({"format": "delimited", "header": "yes"}, False),
]


@pytest.mark.parametrize(("data", "valid"), DATA_CASES)
def test_file_data_schema_accepts_good_and_refuses_bad_formats(data: Any, valid: bool) -> None:
    assert local_files.SPEC.data_schema is not None
    assert is_valid(local_files.SPEC.data_schema, data) is valid


def test_whole_source_spec_validates_a_reference_shaped_body() -> None:
    wire = local_files.SPEC.to_wire()["sourceSpec"]["spec"]
    body = {"params": {"path": "/dir/*.tsv", "recursive": "true"},
            "data": {"format": "delimited", "columnDelimiter": "\t"}}
    assert is_valid(wire, body)
    assert not is_valid(wire, {**body, "data": {"format": "xml"}})
