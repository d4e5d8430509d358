"""Request bodies shared by the API, engine and end-to-end tests."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

FS = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
POSTGRES_SPEC = "1bed8a75-0487-4216-85f5-94ddf2058992"
SQLITE_SPEC = "40a2e097-51aa-4ded-91a4-482c06367e24"
LOCAL_FILES_SPEC = "bc3ffdcf-1b46-41ec-b156-a8c195929f8a"
DATA_LAKE_SPEC = "c604ff05-7f1a-43c0-8e18-33bf874cb11c"
TABLE_FLOW_SPEC = "14518937-270c-4525-bdec-c2ba7cce3860"
FILE_FLOW_SPEC = "9753525b-82c7-4dce-8a9b-5ccfce2b9876"
SECRET = "s3cr3t-Hunter2-do-not-leak"
# The seed tutorial's two on-demand run bodies (the reference's example 3), character for
# character: a test replaces SEED_FLOW_ID with its flow's id.
SEED_TABLE_RUN = """{
      "flowId": "3abea21c-7e36-4be1-bec1-d3bad0e3e0de",
      "params": {
          "startTime": "1663735590",
          "windowStartTime": "1651584991",
          "windowEndTime": "16515859567",
          "deltaColumn": {
              "name": "DOB"
          }
      }
  }"""
SEED_FILE_RUN = """{
      "flowId": "3abea21c-7e36-4be1-bec1-d3bad0e3e0de",
      "params": {
          "startTime": "1663735590",
          "windowStartTime": "1651584991",
          "windowEndTime": "16515859567"
      }
  }"""
SEED_FLOW_ID = "3abea21c-7e36-4be1-bec1-d3bad0e3e0de"


def postgres_connection(name: str = "pg", password: str = SECRET) -> dict[str, Any]:
    return {
        "name": name,
        "description": "test database",
        "auth": {
            "specName": "Basic Authentication",
            "params": {
                "host": "127.0.0.1",
                "port": 5432,
                "database": "test",
                "username": "postgres",
                "password": password,
            },
        },
        "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"},
    }


def sqlite_file(root: Path, name: str = "shop.db") -> Path:
    path = root / name
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, updated_at TIMESTAMP)"
        )
    return path


def sqlite_connection(path: Path, name: str = "shop") -> dict[str, Any]:
    return {
        "name": name,
        "auth": {"specName": "File Path Authentication", "params": {"path": str(path)}},
        "connectionSpec": {"id": SQLITE_SPEC, "version": "1.0"},
    }


def table_source(base_id: str, table: str = "orders", spec: str = SQLITE_SPEC) -> dict[str, Any]:
    return {
        "name": f"source {table}",
        "baseConnectionId": base_id,
        "data": {"format": "tabular"},
        "params": {"tableName": table},
        "connectionSpec": {"id": spec, "version": "1.0"},
    }


def dataset(name: str = "orders") -> dict[str, Any]:
    return {
        "name": name,
        "schema": {
            "fields": [{"name": "id", "type": "long"}, {"name": "updated_at", "type": "timestamp"}]
        },
    }


def target(dataset_id: str) -> dict[str, Any]:
    return {
        "name": "lake target",
        "data": {"schema": {"id": "https://ns.example.com/schemas/orders", "version": "1"}},
        "params": {"dataSetId": dataset_id},
        "connectionSpec": {"id": DATA_LAKE_SPEC, "version": "1.0"},
    }


def created_id(response: Any) -> str:
    assert response.status_code == 201, response.text
    body = response.json()
    if isinstance(body, list):  # the Catalog's ["@/dataSets/{id}"]
        return str(body[0]).rsplit("/", 1)[-1]
    return str(body["id"])


SQLALCHEMY_SPEC = "8e1d2c47-6a3b-4f5e-9c0d-7b2a1f4e3d56"


def postgres_string_connection(conninfo: str) -> dict[str, Any]:
    """A PostgreSQL connection given by a libpq connection string."""
    return {
        "name": "pg by string",
        "auth": {"specName": "Connection String Based Authentication",
                 "params": {"connectionString": conninfo}},
        "connectionSpec": {"id": POSTGRES_SPEC, "version": "1.0"},
    }


def sqlalchemy_connection(url: str) -> dict[str, Any]:
    """A "SQL Database (SQLAlchemy)" connection given by its URL."""
    return {
        "name": "any database",
        "auth": {"specName": "SQLAlchemy URL Authentication", "params": {"url": url}},
        "connectionSpec": {"id": SQLALCHEMY_SPEC, "version": "1.0"},
    }
