"""Mapping sets: versioned rules from source columns to dataset columns.

Every change is a new version (0, 1, ...); old versions stay readable and runnable, because a
flow pins the version its Mapping transformation names. A mapping set a flow uses cannot be
deleted (1447).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from sluice.domain.errors import ConflictError, bad_request
from sluice.domain.flow_specs import ADD_COLUMNS, schema_evolution
from sluice.domain.mapping_sets import (
    MappingRule,
    MappingSetBody,
    mapping_reference,
    parse_mapping_set,
    rules_of,
)
from sluice.domain.tenancy import Tenant
from sluice.schemas.system_fields import system_view
from sluice.services.datasets import datasets
from sluice.services.target_connections import target_connections
from sluice.store.list_query_sql import ColumnField, ResourceFields, system_fields
from sluice.store.models import FlowMappingSet, MappingSet, MappingSetVersion
from sluice.store.resources import ResourceRepository

INVALID_MAPPING_VERSION = 1412
SCHEMA_MISMATCH = 1425
FIELDS = ResourceFields(
    model=MappingSet,
    columns={**system_fields(MappingSet), "version": ColumnField(MappingSet.version, "integer")},
    document_fields=frozenset({"description", "outputSchema", "mappings"}),
)
mapping_sets = ResourceRepository(MappingSet, "mappingSets", FIELDS)


def _declared_fields(session: Session, tenant: Tenant, dataset_id: str) -> list[dict[str, Any]]:
    dataset = datasets.find(session, tenant, dataset_id)
    schema = dataset.doc.get("schema") if dataset is not None else None
    return list((schema or {}).get("fields") or [])


def schema_conflicts(
    rules: tuple[MappingRule, ...], declared: list[dict[str, Any]], *, new_columns: bool
) -> list[str]:
    """Why the rules do not fit the dataset's declared columns (empty when they do)."""
    # Here, as in _check_values: types are checked with Arrow, which the API loads only when
    # a mapping set is written.
    from sluice.domain.casting import cast_scalar
    from sluice.domain.type_changes import TypeChange, classify, type_name
    from sluice.lake.schema import arrow_type

    by_name = {str(f["name"]).casefold(): f for f in declared}
    problems = []
    for rule in rules:
        column = by_name.get(rule.destination.casefold())
        if column is None:
            if not new_columns:
                problems.append(f"'{rule.destination}' is not a column of the dataset")
            continue
        target = arrow_type(column["type"])
        if rule.destination_type is not None:
            verdict = classify(arrow_type(rule.destination_type), target)
            if verdict.change is TypeChange.LOSSY:
                problems.append(
                    f"'{rule.destination}' is mapped as {rule.destination_type} but the dataset "
                    f"declares {type_name(target)}"
                )
                continue
        values = [rule.constant] if rule.path is None else []
        values += [rule.default] if rule.has_default else []
        for value in values:
            try:
                cast_scalar(value, target)
            except ValueError as error:
                problems.append(f"'{rule.destination}': {error}")
    return problems


def _check_values(body: MappingSetBody) -> None:
    """Constants and defaults must be values of the mapping's destination type."""
    from sluice.domain.casting import cast_scalar
    from sluice.lake.schema import arrow_type

    for index, rule in enumerate(body.rules):
        if rule.destination_type is None:
            continue
        values = [rule.constant] if rule.path is None else []
        values += [rule.default] if rule.has_default else []
        for value in values:
            try:
                cast_scalar(value, arrow_type(rule.destination_type))
            except ValueError as error:
                raise bad_request(
                    1419, f"Mapping validation failed: mappings[{index}]: {error}."
                ) from None


def _check_output_dataset(session: Session, tenant: Tenant, body: MappingSetBody) -> None:
    if body.output_dataset_id is None:
        return
    if datasets.find(session, tenant, body.output_dataset_id) is None:
        raise bad_request(
            1419,
            f"Mapping validation failed: outputSchema.dataSetId '{body.output_dataset_id}' is "
            "not a dataset of this sandbox.",
        )
    declared = _declared_fields(session, tenant, body.output_dataset_id)
    problems = schema_conflicts(body.rules, declared, new_columns=True)
    if problems:
        raise bad_request(
            SCHEMA_MISMATCH,
            "The dataset schema does not match the mapping: " + "; ".join(problems) + ".",
        )


def _add_version(session: Session, row: MappingSet, tenant: Tenant, doc: dict[str, Any]) -> None:
    session.add(
        MappingSetVersion(
            mapping_set_id=row.id,
            version=row.version,
            created_at=row.updated_at,
            created_by=tenant.client_id,
            doc=doc,
        )
    )
    session.flush()


def create_mapping_set(session: Session, tenant: Tenant, payload: Any) -> MappingSet:
    body = parse_mapping_set(payload)
    _check_values(body)
    _check_output_dataset(session, tenant, body)
    doc = body.document()
    row = mapping_sets.add(session, tenant, body.name, doc, version=0)
    _add_version(session, row, tenant, doc)
    return row


def replace_mapping_set(
    session: Session, tenant: Tenant, mapping_id: str, payload: Any, if_match: str | None
) -> MappingSet:
    """PUT: the body becomes version N+1; version N and older stay as they were."""
    row = mapping_sets.get_for_write(session, tenant, mapping_id, if_match)
    body = parse_mapping_set(payload)
    _check_values(body)
    _check_output_dataset(session, tenant, body)
    doc = body.document()
    row.name = body.name
    row.doc = doc
    row.version = row.version + 1
    mapping_sets.touch(row, tenant)
    session.flush()
    _add_version(session, row, tenant, doc)
    return row


def render_mapping_set(
    row: MappingSet, tenant: Tenant, version: MappingSetVersion | None = None
) -> dict[str, Any]:
    doc = version.doc if version is not None else row.doc
    view = {
        **system_view(row, tenant),
        "name": doc.get("name", row.name),
        "description": doc.get("description", ""),
        "outputSchema": doc.get("outputSchema"),
        "mappings": doc.get("mappings", []),
        "version": version.version if version is not None else row.version,
        "latestVersion": row.version,
    }
    if version is not None:
        view["versionCreatedAt"] = version.created_at
    return view


def get_version(
    session: Session, tenant: Tenant, mapping_id: str, version: int | None
) -> tuple[MappingSet, MappingSetVersion | None]:
    row = mapping_sets.get(session, tenant, mapping_id)
    if version is None or version == row.version:
        return row, None
    found = session.get(MappingSetVersion, (row.id, version))
    if found is None:
        raise bad_request(
            INVALID_MAPPING_VERSION,
            f"Mapping set {row.id} has no version {version}; its versions are 0 to {row.version}.",
        )
    return row, found


def delete_mapping_set(session: Session, tenant: Tenant, mapping_id: str) -> None:
    row = mapping_sets.get(session, tenant, mapping_id, for_update=True)
    users = list(
        session.scalars(
            select(FlowMappingSet.flow_id).where(FlowMappingSet.mapping_set_id == row.id)
        )
    )
    if users:
        raise ConflictError(
            f"mappingSets {row.id} cannot be deleted: flows {', '.join(users)} use it. Point "
            "their Mapping transformation elsewhere or delete them first.",
            code=1447,
        )
    session.execute(delete(MappingSetVersion).where(MappingSetVersion.mapping_set_id == row.id))
    mapping_sets.delete(session, row)


def check_flow_mapping(
    session: Session,
    tenant: Tenant,
    transformations: list[Any],
    target_connection_id: str,
    options: dict[str, Any] | None,
) -> tuple[list[Any], str | None]:
    """A flow's Mapping transformation checked against its mapping set and dataset.

    Returns the transformations with the mapping version pinned (the latest when none is
    given) and the mapping set's id (None: the flow maps by name).
    """
    reference = mapping_reference(transformations)
    if reference is None:
        return transformations, None
    row = mapping_sets.find(session, tenant, reference.mapping_id)
    if row is None:
        raise bad_request(
            1439,
            f"Mapping set {reference.mapping_id} is not found in this sandbox; create it with "
            "POST /data/foundation/conversion/mappingSets.",
        )
    version = row.version if reference.version is None else reference.version
    stored = session.get(MappingSetVersion, (row.id, version))
    if stored is None:
        raise bad_request(
            INVALID_MAPPING_VERSION,
            f"Invalid mapping version {version} for mapping set {row.id}; its versions are 0 to "
            f"{row.version}.",
        )
    target = target_connections.find(session, tenant, target_connection_id)
    if target is not None and target.dataset_id:
        declared = _declared_fields(session, tenant, target.dataset_id)
        if declared:
            adds = schema_evolution(options) == ADD_COLUMNS
            problems = schema_conflicts(rules_of(stored.doc), declared, new_columns=adds)
            if problems:
                raise bad_request(
                    SCHEMA_MISMATCH,
                    f"The schema of dataset {target.dataset_id} does not match mapping set "
                    f"{row.id} version {version}: " + "; ".join(problems) + ".",
                )
    pinned = [_pinned(t, row.id, version) for t in transformations]
    return pinned, row.id


def _pinned(transformation: Any, mapping_id: str, version: int) -> Any:
    if not isinstance(transformation, dict) or transformation.get("name") != "Mapping":
        return transformation
    params = dict(transformation.get("params") or {})
    if params.get("mappingId") != mapping_id:
        return transformation
    return {**transformation, "params": {**params, "mappingVersion": version}}


def link_flow(session: Session, flow_id: str, mapping_set_id: str | None) -> None:
    """Record which mapping set the flow uses (the link refuses deleting it)."""
    session.execute(delete(FlowMappingSet).where(FlowMappingSet.flow_id == flow_id))
    if mapping_set_id is not None:
        session.add(FlowMappingSet(flow_id=flow_id, mapping_set_id=mapping_set_id))
    session.flush()
