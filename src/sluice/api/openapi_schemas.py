"""The reusable schemas of the OpenAPI document: answers, errors and request bodies that
routes read by hand (so FastAPI cannot see them)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sluice.schemas.connections import (
    ConnectionCreate,
    SourceConnectionCreate,
    TargetConnectionCreate,
)
from sluice.schemas.datasets import DatasetCreate
from sluice.schemas.flows import FlowCreate
from sluice.schemas.sandboxes import SandboxCreate
from sluice.schemas.webhooks import WebhookCreate

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


OBJECT: Schema = {"type": "object", "additionalProperties": True}
LINKS: Schema = {"type": "object", "additionalProperties": True}
SYSTEM_FIELDS = ("id", "createdAt", "updatedAt", "sandboxId", "sandboxName", "imsOrgId", "etag")


def _resource(*required: str) -> Schema:
    """A Flow Service resource: its system fields, `_links`, and whatever else it holds."""
    properties: Schema = {name: {"type": "string"} for name in SYSTEM_FIELDS}
    properties.update(createdAt={"type": "integer"}, updatedAt={"type": "integer"})
    properties["_links"] = LINKS
    return {
        "type": "object",
        "required": [*SYSTEM_FIELDS, *required],
        "properties": properties,
        "additionalProperties": True,
    }


ANSWERS: dict[str, Schema] = {
    "Problem": {
        "type": "object",
        "description": "A Flow Service error: type .../FLOW-{code}-{status}.",
        "required": ["type", "title", "status", "report"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "report": {
                "type": "object",
                "required": ["detailed-message", "request-id"],
                "properties": {
                    "detailed-message": {"type": "string"},
                    "request-id": {"type": "string"},
                },
                "additionalProperties": True,
            },
            "errorMessage": {"type": "string"},
            "errorDetails": {"type": "string"},
        },
    },
    "GatewayError": {
        "type": "object",
        "description": "An auth or header error of the gateway.",
        "required": ["error_code", "message"],
        "properties": {"error_code": {"type": "string"}, "message": {"type": "string"}},
    },
    "ContentTypeProblem": {
        "type": "object",
        "description": "A body sent with a Content-Type that is not JSON.",
        "required": ["type", "status", "title", "detail"],
        "properties": {
            "type": {"type": "string"},
            "status": {"type": "integer"},
            "title": {"type": "string"},
            "detail": {"type": "string"},
        },
    },
    "Error": {"anyOf": [ref("Problem"), ref("GatewayError"), ref("ContentTypeProblem")]},
    "OAuthError": {
        "type": "object",
        "required": ["error", "error_description"],
        "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
    },
    "Token": {
        "type": "object",
        "required": ["access_token", "token_type", "expires_in"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string"},
            "expires_in": {"type": "integer"},
        },
    },
    "Created": {
        "type": "object",
        "required": ["id", "etag"],
        "properties": {"id": {"type": "string"}, "etag": {"type": "string"}},
        "additionalProperties": True,
    },
    "RunCreated": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": ref("Created")}},
    },
    "Resource": _resource(),
    "Count": {
        "type": "object",
        "required": ["count"],
        "properties": {"count": {"type": "integer", "minimum": 0}},
    },
    "Item": {
        "type": "object",
        "description": "One resource, in the reference's list envelope.",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": OBJECT, "minItems": 1}},
    },
    "Page": {
        "type": "object",
        "required": ["items", "_links"],
        "properties": {
            "items": {"type": "array", "items": OBJECT},
            "_links": {
                "type": "object",
                "properties": {
                    "next": {
                        "type": "object",
                        "required": ["href"],
                        "properties": {"href": {"type": "string"}},
                    }
                },
            },
        },
    },
    "PageOrCount": {"anyOf": [ref("Page"), ref("Count")]},
    "CatalogObjects": {
        "type": "object",
        "description": "Catalog objects keyed by id.",
        "additionalProperties": OBJECT,
    },
    "CatalogObjectsOrCount": {"anyOf": [ref("CatalogObjects"), ref("Count")]},
    "CatalogRefs": {
        "type": "array",
        "description": 'What a Catalog write answers: ["@/dataSets/{id}"].',
        "items": {"type": "string"},
    },
    "JsonPatch": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {"type": "string", "enum": ["add", "replace", "remove"]},
                "path": {"type": "string"},
                "value": {},
            },
        },
    },
    "ConnectionTest": {
        "type": "object",
        "required": ["result"],
        "properties": {
            "result": {"type": "boolean"},
            "message": {"type": "string"},
            "code": {"type": "string", "description": "On failure: the connector's code."},
        },
    },
    "Explore": {"type": ["array", "object"]},
    "RunCreate": {
        "type": "object",
        "required": ["flowId", "params"],
        "properties": {
            "flowId": {"type": "string"},
            "params": {
                "type": "object",
                "properties": {
                    name: {"type": ["string", "integer"]}
                    for name in ("startTime", "windowStartTime", "windowEndTime")
                }
                | {"deltaColumn": {"type": "object", "properties": {"name": {"type": "string"}}}},
            },
        },
    },
    "BackfillCreate": {
        "type": "object",
        "description": "A Sluice extension: a flow's range loaded in chunks.",
        "required": ["flowId", "windowStartTime", "windowEndTime", "chunk"],
        "properties": {
            "flowId": {"type": "string"},
            "windowStartTime": {"type": ["string", "integer"]},
            "windowEndTime": {"type": ["string", "integer"]},
            "chunk": {
                "type": "object",
                "required": ["unit"],
                "properties": {
                    "unit": {"type": "string", "enum": ["hour", "day", "week", "month"]},
                    "size": {"type": "integer", "minimum": 1},
                },
            },
            "parallelism": {"type": "integer", "minimum": 1},
            "dryRun": {"type": "boolean"},
            "deltaColumn": {"type": "object", "properties": {"name": {"type": "string"}}},
        },
    },
    "BackfillPlan": {
        "type": "object",
        "description": "The answer of a dry run: the chunks a backfill would run.",
        "required": ["dryRun", "chunks"],
        "properties": {"dryRun": {"type": "boolean"}, "chunks": {"type": "array"}},
        "additionalProperties": True,
    },
    "Sandbox": {
        "type": "object",
        "required": ["id", "name", "type", "state"],
        "properties": {
            "id": {"type": "string"},
            "name": {"type": "string"},
            "type": {"type": "string"},
            "state": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "Sandboxes": {
        "type": "object",
        "required": ["sandboxes"],
        "properties": {"sandboxes": {"type": "array", "items": ref("Sandbox")}},
        "additionalProperties": True,
    },
    "Items": {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": OBJECT}},
        "additionalProperties": True,
    },
    "DatasetPreview": {
        "type": "object",
        "required": ["dataSetId", "columns", "rows", "rowCount"],
        "properties": {
            "dataSetId": {"type": "string"},
            "columns": {"type": "array", "items": OBJECT},
            "rows": {"type": "array", "items": OBJECT},
            "version": {"type": ["integer", "null"]},
            "rowCount": {"type": "integer"},
        },
    },
    "DatasetStats": {
        "type": "object",
        "required": ["dataSetId", "version", "rowCount", "fileCount", "sizeBytes"],
        "properties": {
            "dataSetId": {"type": "string"},
            "version": {"type": ["integer", "null"]},
            "rowCount": {"type": "integer"},
            "fileCount": {"type": "integer"},
            "sizeBytes": {"type": "integer"},
        },
    },
    "DatasetHistory": {
        "type": "object",
        "required": ["dataSetId", "items"],
        "properties": {
            "dataSetId": {"type": "string"},
            "items": {"type": "array", "items": OBJECT},
        },
    },
    "MappingSetWritten": {
        "type": "object",
        "required": ["id", "etag", "version"],
        "properties": {
            "id": {"type": "string"},
            "etag": {"type": "string"},
            "version": {"type": "integer"},
        },
    },
}

# Request bodies from the wire models (unknown fields are ignored, so none is closed).
BODY_MODELS: dict[str, type[BaseModel]] = {
    "ConnectionCreate": ConnectionCreate,
    "SourceConnectionCreate": SourceConnectionCreate,
    "TargetConnectionCreate": TargetConnectionCreate,
    "FlowCreate": FlowCreate,
    "DatasetCreate": DatasetCreate,
    "SandboxCreate": SandboxCreate,
    "WebhookCreate": WebhookCreate,
}


def body_schemas() -> dict[str, Schema]:
    """The wire models' JSON Schemas, their nested definitions lifted into components."""
    found: dict[str, Schema] = {}
    for name, model in BODY_MODELS.items():
        schema = model.model_json_schema(by_alias=True, ref_template="#/components/schemas/{model}")
        found.update(schema.pop("$defs", {}))
        found[name] = schema
    return found
