"""The shared list query (reference section 2.5): `property` filters (on /connections and
the dataset catalog, which share them), and on Flow Service lists `orderby`, `limit` +
`_links.next`, `continuationToken`, `count`, and every error code. Every expectation is
the same on SQLite and PostgreSQL. The Catalog's own paging is in test_catalog_datasets."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sluice.config import Settings
from sluice.domain.list_query import ListQuery, OrderBy, PropertyFilter, encode_token
from support.api_bodies import (
    CATALOG,
    DATA_LAKE_SPEC,
    FS,
    POSTGRES_SPEC,
    SECRET,
    SQLITE_SPEC,
    created_id,
    dataset,
    postgres_connection,
    sqlite_connection,
    sqlite_file,
    target,
)
from support.callers import Caller, error_code

CONNECTIONS = f"{FS}/connections"
DATASETS = f"{CATALOG}/dataSets"
TARGETS = f"{FS}/targetConnections"


def make_datasets(caller: Caller, *bodies: dict[str, Any], spaced: bool = False) -> list[str]:
    """Creates the datasets in order; `spaced` makes their createdAt strictly increasing."""
    ids = []
    for body in bodies:
        if spaced and ids:
            time.sleep(0.003)
        ids.append(created_id(caller.post(DATASETS, json=body)))
    return ids


def make_connections(
    caller: Caller, settings: Settings, *names: str, spaced: bool = False
) -> list[str]:
    """SQLite base connections of these names, in order; `spaced` makes their createdAt
    strictly increasing."""
    database = sqlite_file(Path(settings.allowed_file_roots[0]))
    ids = []
    for name in names:
        if spaced and ids:
            time.sleep(0.003)
        ids.append(created_id(caller.post(CONNECTIONS, json=sqlite_connection(database, name))))
    return ids


def named(*names: str) -> list[dict[str, Any]]:
    return [{"name": name} for name in names]


def listed(
    caller: Caller, path: str, *params: tuple[str, str], raw: str = ""
) -> list[dict[str, Any]]:
    """The items of one page; `raw` is appended to the URL as is (for unencoded characters).
    Catalog objects come keyed by id: they are returned as items with their `id`."""
    url = f"{path}?{raw}" if raw else path
    limit = "100" if path == DATASETS else "1000"
    response = caller.get(url, params=[*params, ("limit", limit)] if not raw else None)
    assert response.status_code == 200, response.text
    if path == DATASETS:
        return [{"id": key, **value} for key, value in response.json().items()]
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def names(caller: Caller, path: str, *filters: str) -> list[str]:
    """Names matching every `property` filter, sorted."""
    return sorted(i["name"] for i in listed(caller, path, *(("property", f) for f in filters)))


def next_url(href: str) -> str:
    """Where a client goes with a next link: the service's base URL + href."""
    assert href.startswith("/") and not href.startswith("/data/"), href
    return FS + href


def walk(caller: Caller, first_url: str) -> tuple[list[str], list[int]]:
    """Follows `_links.next.href` to the end: (ids in visiting order, page sizes)."""
    ids: list[str] = []
    sizes: list[int] = []
    url: str | None = first_url
    while url is not None:
        response = caller.get(url)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        sizes.append(len(body["items"]))
        href = body["_links"].get("next", {}).get("href")
        url = next_url(href) if href else None
        assert len(sizes) < 50, "paging does not end"
    return ids, sizes


def assert_error(response: Any, code: str, query: str) -> None:
    assert response.status_code == 400, (query, response.status_code, response.text)
    assert error_code(response) == code, (query, response.text)
    report = response.json()["report"]
    assert report["detailed-message"], query
    assert report["request-id"] == response.headers["x-request-id"], query


# --- property filters ---------------------------------------------------------------------------


def test_equality_lists_quotes_and_repeated_properties(caller: Caller) -> None:
    make_datasets(caller, *named("a", "b", "c", "x,y", "O'Brien"))
    assert names(caller, DATASETS, "name==a") == ["a"]
    assert names(caller, DATASETS, "name==a,b") == ["a", "b"]
    assert names(caller, DATASETS, "name==a, c ,nope") == ["a", "c"]
    assert names(caller, DATASETS, 'name=="a"') == ["a"]
    assert names(caller, DATASETS, "name=='b'") == ["b"]
    assert names(caller, DATASETS, 'name=="x,y"') == ["x,y"]
    assert names(caller, DATASETS, 'name=="x,y",a') == ["a", "x,y"]
    assert names(caller, DATASETS, "name==O'Brien") == ["O'Brien"]
    assert names(caller, DATASETS, "name==x,y") == []
    assert names(caller, DATASETS, "name!=a") == ["O'Brien", "b", "c", "x,y"]
    assert names(caller, DATASETS, "name!=a,b,x,y") == ["O'Brien", "c", "x,y"]
    # Repeated property parameters are ANDed.
    assert names(caller, DATASETS, "name==a,b", "name!=b") == ["a"]
    assert names(caller, DATASETS, "name==a", "name==b") == []
    assert names(caller, DATASETS, "name==nope") == []
    # Names compare as strings, ordered by code point.
    assert names(caller, DATASETS, "name>b") == ["c", "x,y"]
    assert names(caller, DATASETS, "name<=a") == ["O'Brien", "a"]


def test_comparisons_on_created_at(caller: Caller) -> None:
    make_datasets(caller, *named("d1", "d2", "d3", "d4"), spaced=True)
    items = listed(caller, DATASETS)
    stamps = {item["name"]: item["created"] for item in items}
    assert len(set(stamps.values())) == 4
    pivot = stamps["d2"]

    def expect(check: Any) -> list[str]:
        return sorted(name for name, stamp in stamps.items() if check(stamp))

    assert names(caller, DATASETS, f"created>{pivot}") == expect(lambda s: s > pivot)
    assert names(caller, DATASETS, f"created<{pivot}") == expect(lambda s: s < pivot)
    assert names(caller, DATASETS, f"created>={pivot}") == expect(lambda s: s >= pivot)
    assert names(caller, DATASETS, f"created<={pivot}") == expect(lambda s: s <= pivot)
    assert names(caller, DATASETS, f"created=={pivot}") == ["d2"]
    assert names(caller, DATASETS, f"created!={pivot}") == ["d1", "d3", "d4"]
    assert names(caller, DATASETS, f"created>{pivot}", f"created<{stamps['d4']}") == ["d3"]
    # Fractional and out-of-range bounds mean what they say for whole-millisecond stamps.
    assert names(caller, DATASETS, f"created<{pivot}.5") == ["d1", "d2"]
    assert names(caller, DATASETS, f"created>{pivot}.5") == ["d3", "d4"]
    assert names(caller, DATASETS, f"created>={pivot - 1}.5") == ["d2", "d3", "d4"]
    assert names(caller, DATASETS, f"created=={pivot}.5") == []
    assert names(caller, DATASETS, f"created!={pivot}.5") == ["d1", "d2", "d3", "d4"]
    assert names(caller, DATASETS, "created<99999999999999999999999") == ["d1", "d2", "d3", "d4"]
    assert names(caller, DATASETS, "created>99999999999999999999999") == []
    assert names(caller, DATASETS, "created>1e400") == []
    assert names(caller, DATASETS, "created>=-1e400") == ["d1", "d2", "d3", "d4"]
    assert names(caller, DATASETS, f"updated>={pivot}") == expect(lambda s: s >= pivot)


def test_dotted_paths_into_connections(caller: Caller, settings: Settings) -> None:
    pg1 = created_id(caller.post(CONNECTIONS, json=postgres_connection("pg1")))
    body = postgres_connection("pg2")
    body["auth"]["params"].update(host="db.internal", port=6543)
    body["description"] = "the other one"
    created_id(caller.post(CONNECTIONS, json=body))
    database = sqlite_file(Path(settings.allowed_file_roots[0]))
    created_id(caller.post(CONNECTIONS, json=sqlite_connection(database, "lite")))

    assert names(caller, CONNECTIONS, f"connectionSpec.id=={POSTGRES_SPEC}") == ["pg1", "pg2"]
    assert names(caller, CONNECTIONS, f"connectionSpec.id=={SQLITE_SPEC}") == ["lite"]
    assert names(caller, CONNECTIONS, "connectionSpec.version==1.0") == ["lite", "pg1", "pg2"]
    assert names(caller, CONNECTIONS, "auth.params.host==127.0.0.1") == ["pg1"]
    assert names(caller, CONNECTIONS, 'auth.params.host=="db.internal"') == ["pg2"]
    assert names(caller, CONNECTIONS, "auth.params.host==127.0.0.1,db.internal") == ["pg1", "pg2"]
    # `!=` also keeps the resources that lack the field.
    assert names(caller, CONNECTIONS, "auth.params.host!=127.0.0.1") == ["lite", "pg2"]
    assert names(caller, CONNECTIONS, "auth.params.port==5432") == ["pg1"]
    assert names(caller, CONNECTIONS, "auth.params.port>6000") == ["pg2"]
    assert names(caller, CONNECTIONS, "auth.params.port<=5432") == ["pg1"]
    assert names(caller, CONNECTIONS, "auth.specName==Basic Authentication") == ["pg1", "pg2"]
    assert names(caller, CONNECTIONS, "description==the other one") == ["pg2"]
    assert names(caller, CONNECTIONS, "state==ENABLED") == ["lite", "pg1", "pg2"]
    assert names(caller, CONNECTIONS, f"id=={pg1}") == ["pg1"]
    assert names(caller, CONNECTIONS, f"imsOrgId=={caller.org_id}", "sandboxName==prod") == [
        "lite",
        "pg1",
        "pg2",
    ]
    assert names(caller, CONNECTIONS, "sandboxName==dev") == []
    # Secrets are not stored in the document: no filter can probe them.
    assert names(caller, CONNECTIONS, f"auth.params.password=={SECRET}") == []
    assert names(caller, CONNECTIONS, "auth.params.password==********") == []


def test_array_paths_with_brackets(caller: Caller) -> None:
    def with_fields(name: str, *columns: str, **extra: Any) -> dict[str, Any]:
        fields = [{"name": c, "type": "string"} for c in columns]
        return {"name": name, **({"schema": {"fields": fields}} if fields else {}), **extra}

    make_datasets(
        caller,
        with_fields("orders", "id", "updated_at", tags={"team": ["core", "ops"]}),
        with_fields("payments", "id", "amount", tags={"team": ["ops"]}),
        with_fields("bare"),
        with_fields(
            "people",
            "name",
            schemaRef={"parts": [{"cols": [{"n": "x"}, {"n": "y"}]}, {"cols": []}]},
        ),
    )
    assert names(caller, DATASETS, "schema.fields[].name==id") == ["orders", "payments"]
    assert names(caller, DATASETS, "schema.fields[].name==amount,name") == ["payments", "people"]
    assert names(caller, DATASETS, "schema.fields[].name!=id") == ["bare", "people"]
    assert names(caller, DATASETS, "schema.fields[].name==id", "schema.fields[].name==amount") == [
        "payments"
    ]
    assert names(caller, DATASETS, "schema.fields[].nullable==true") == [
        "orders",
        "payments",
        "people",
    ]
    # Arrays of scalars, and arrays inside arrays.
    assert names(caller, DATASETS, "tags.team[]==core") == ["orders"]
    assert names(caller, DATASETS, "tags.team[]==ops") == ["orders", "payments"]
    assert names(caller, DATASETS, "tags.team[]!=core") == ["bare", "payments", "people"]
    assert names(caller, DATASETS, "schemaRef.parts[].cols[].n==y") == ["people"]
    assert names(caller, DATASETS, "schemaRef.parts[].cols[].n==z") == []
    # Without [] the path does not reach into the array.
    assert names(caller, DATASETS, "schema.fields.name==id") == []


def test_json_values_compare_identically_on_both_databases(caller: Caller) -> None:
    """Numbers and numeric strings compare as numbers, anything else as text; the expected
    answers below are the only ones accepted, on SQLite and on PostgreSQL alike."""
    values: dict[str, Any] = {
        "str10": "10",
        "int9": 9,
        "float2.5": 2.5,
        "big": 10**30,
        "dotted": "1.2.3",
        "plus": "+5",
        "bare-dot": ".5",
        "word": "abc",
        "yes": True,
        "nothing": None,
        "list": [7],
    }
    make_datasets(caller, *({"name": n, "schemaRef": {"v": v}} for n, v in values.items()))
    huge = {"name": "huge", "schemaRef": {"w": 10**200, "x": "1" * 300, "y": "1e999"}}
    make_datasets(caller, huge)
    assert names(caller, DATASETS, "schemaRef.v>5") == ["big", "int9", "str10"]
    assert names(caller, DATASETS, "schemaRef.v>=9") == ["big", "int9", "str10"]
    assert names(caller, DATASETS, "schemaRef.v<5") == ["float2.5"]
    assert names(caller, DATASETS, "schemaRef.v<=2.5") == ["float2.5"]
    assert names(caller, DATASETS, "schemaRef.v>1e29") == ["big"]
    assert names(caller, DATASETS, "schemaRef.v==10") == ["str10"]
    assert names(caller, DATASETS, "schemaRef.v==9") == ["int9"]
    assert names(caller, DATASETS, "schemaRef.v==2.5") == ["float2.5"]
    assert names(caller, DATASETS, "schemaRef.v==true") == ["yes"]
    assert names(caller, DATASETS, "schemaRef.v==1.2.3,+5") == ["dotted", "plus"]
    assert names(caller, DATASETS, "schemaRef.v>abb") == ["word", "yes"]
    assert names(caller, DATASETS, "schemaRef.v<+") == []
    # Not a finite number, so a text comparison: "abc" < "nan" < "true".
    assert names(caller, DATASETS, "schemaRef.v>nan") == ["yes"]
    # Numbers too large for a double are never an SQL error.
    for path in ("w", "x", "y"):
        for operator in (">", "<", "=="):
            response = caller.get(DATASETS, params={"property": f"schemaRef.{path}{operator}5"})
            assert response.status_code == 200, (path, operator, response.text)


# --- orderby ------------------------------------------------------------------------------------


def test_orderby_name_and_created_at(caller: Caller, settings: Settings) -> None:
    make_connections(caller, settings, "b", "a", "d", "c", spaced=True)
    creation = ["b", "a", "d", "c"]

    def order(raw: str) -> list[str]:
        return [item["name"] for item in listed(caller, CONNECTIONS, raw=raw)]

    assert order("orderby=name") == ["a", "b", "c", "d"]
    assert order("orderby=%2Bname") == ["a", "b", "c", "d"]
    assert order("orderby=-name") == ["d", "c", "b", "a"]
    assert order("orderby=%2BcreatedAt") == creation
    # A raw '+' decodes to a space; it still means ascending.
    assert order("orderby=+createdAt") == creation
    assert order("orderby=createdAt") == creation
    assert order("orderby=-createdAt") == creation[::-1]
    # The default is newest first.
    assert [item["name"] for item in listed(caller, CONNECTIONS)] == creation[::-1]
    # The last orderby wins, and combines with filters.
    assert order("orderby=name&orderby=-name&property=name!=a") == ["d", "c", "b"]


# --- paging -------------------------------------------------------------------------------------


def test_limit_and_next_links_visit_every_item_exactly_once(
    caller: Caller, settings: Settings
) -> None:
    # Created back to back, so several share a createdAt: ties must page correctly too.
    created = make_connections(caller, settings, *(f"n{i}" for i in range(7)))
    first = caller.get(f"{CONNECTIONS}?limit=3")
    href = first.json()["_links"]["next"]["href"]
    # Relative to the service, as in the reference: base URL + href is the next page.
    assert href.startswith("/connections?continuationToken=")
    # Clients split the link on '=' to find the token: it carries no '=' of its own.
    assert href.count("=") == 1

    ids, sizes = walk(caller, f"{CONNECTIONS}?limit=3")
    assert sizes == [3, 3, 1]
    assert sorted(ids) == sorted(created) and len(ids) == len(set(ids))

    ids, sizes = walk(caller, f"{CONNECTIONS}?limit=2&orderby=name&property=name!=n3")
    assert sizes == [2, 2, 2]
    assert ids == [i for i, n in zip(created, range(7), strict=True) if n != 3]

    ids, sizes = walk(caller, f"{CONNECTIONS}?limit=7")
    assert sizes == [7]
    last = caller.get(f"{CONNECTIONS}?limit=7").json()
    assert last["_links"] == {}

    # An explicit limit next to the token overrides the page size it was issued with.
    token = href.split("=", 1)[1]
    page = caller.get(f"{CONNECTIONS}?continuationToken={token}&limit=1").json()
    assert len(page["items"]) == 1 and "next" in page["_links"]


def test_paging_on_a_column_that_can_be_null(caller: Caller) -> None:
    """Target connections have no base connection: sorting on it must still page."""
    dataset_id = created_id(caller.post(DATASETS, json=dataset()))
    created = [created_id(caller.post(TARGETS, json=target(dataset_id))) for _ in range(3)]
    for order in ("baseConnectionId", "-baseConnectionId"):
        ids, sizes = walk(caller, f"{TARGETS}?orderby={order}&limit=1")
        assert sorted(ids) == sorted(created), order
        assert sizes == [1, 1, 1]
    ids, _ = walk(caller, f"{TARGETS}?orderby=params.dataSetId&limit=2")
    assert sorted(ids) == sorted(created)
    assert caller.get(
        f"{TARGETS}?property=connectionSpec.id=={DATA_LAKE_SPEC}&count=true"
    ).json() == {"count": 3}


def test_continuation_token_is_stable_while_rows_are_inserted(
    caller: Caller, settings: Settings
) -> None:
    existing = make_connections(caller, settings, "b1", "b2", "b3", "b4", "b5", "b6", spaced=True)

    # Newest first (the default): rows inserted meanwhile are newer, so never shown.
    first = caller.get(f"{CONNECTIONS}?limit=2").json()
    seen = [item["id"] for item in first["items"]]
    inserted = make_connections(caller, settings, "new1", "new2", "new3", spaced=True)
    ids, _ = walk(caller, next_url(first["_links"]["next"]["href"]))
    seen += ids
    assert seen == existing[::-1]

    # By name: a row sorting before the cursor is skipped, one after it is visited; the
    # pre-existing rows are all visited once, in order.
    first = caller.get(f"{CONNECTIONS}?limit=2&orderby=name&property=name!=new1,new2,new3").json()
    seen = [item["name"] for item in first["items"]]
    make_connections(caller, settings, "a0", "c0", "b35")
    href = first["_links"]["next"]["href"]
    for _ in range(2):
        page = caller.get(next_url(href)).json()
        seen += [item["name"] for item in page["items"]]
        href = page["_links"]["next"]["href"]
        make_connections(caller, settings, f"b{len(seen)}x")
    ids, _ = walk(caller, next_url(href))
    name_of = {i["id"]: i["name"] for i in listed(caller, CONNECTIONS)}
    seen += [name_of[i] for i in ids]
    assert len(seen) == len(set(seen))
    assert [n for n in seen if n in ("b1", "b2", "b3", "b4", "b5", "b6")] == [
        "b1",
        "b2",
        "b3",
        "b4",
        "b5",
        "b6",
    ]
    assert "a0" not in seen and "c0" in seen
    assert seen == sorted(seen)
    assert set(inserted).isdisjoint(ids)


def test_count(caller: Caller, settings: Settings) -> None:
    make_connections(caller, settings, "a", "b", "c")
    assert caller.get(f"{CONNECTIONS}?count=true").json() == {"count": 3}
    assert caller.get(f"{CONNECTIONS}?count=TRUE&property=name==a,b").json() == {"count": 2}
    assert caller.get(f"{CONNECTIONS}?count=true&property=name==zzz").json() == {"count": 0}
    assert caller.get(f"{TARGETS}?count=true").json() == {"count": 0}
    plain = caller.get(f"{CONNECTIONS}?count=false").json()
    assert len(plain["items"]) == 3
    # A continuation token does not turn a count into a page.
    href = caller.get(f"{CONNECTIONS}?limit=1").json()["_links"]["next"]["href"]
    token = href.split("=", 1)[1]
    assert caller.get(f"{CONNECTIONS}?count=true&continuationToken={token}").json() == {"count": 3}


# --- errors -------------------------------------------------------------------------------------

ERRORS: list[tuple[str, str]] = [
    ("limit=5&count=true", "FLOW-1401-400"),
    ("count=true&limit=1", "FLOW-1401-400"),
    ("orderby=*name", "FLOW-1432-400"),
    ("orderby=", "FLOW-1432-400"),
    ("orderby=--name", "FLOW-1432-400"),
    ("orderby=name,createdAt", "FLOW-1432-400"),
    ("orderby=nope", "FLOW-1433-400"),
    ("orderby=-description", "FLOW-1433-400"),
    ("property=name~x", "FLOW-1440-400"),
    ("property=name=~x", "FLOW-1440-400"),
    ("property=createdAt<=1,2", "FLOW-1443-400"),
    ("property=name>a,b", "FLOW-1443-400"),
    ("property=nope==1", "FLOW-1449-400"),
    ("property===x", "FLOW-1449-400"),
    ("property=1abc==x", "FLOW-1449-400"),
    ("property=name!>x", "FLOW-1450-400"),
    ("property=name=x", "FLOW-1450-400"),
    ("property=name<>x", "FLOW-1450-400"),
    ("property=name", "FLOW-1450-400"),
    ("foo=1", "FLOW-1451-400"),
    ("Property=name==a", "FLOW-1451-400"),
    ("limit=0", "FLOW-1452-400"),
    ("limit=-1", "FLOW-1452-400"),
    ("limit=abc", "FLOW-1452-400"),
    ("limit=1000000", "FLOW-1452-400"),
    ("continuationToken=garbage", "FLOW-1452-400"),
    ("continuationToken=", "FLOW-1452-400"),
    ("continuationToken=%F0%9F%92%A9", "FLOW-1452-400"),
    ("property=createdAt==1,2", "FLOW-1452-400"),
    ("property=createdAt>abc", "FLOW-1452-400"),
    ("property=createdAt>nan", "FLOW-1452-400"),
    ("count=maybe", "FLOW-1452-400"),
    ("property=createdAt==", "FLOW-1453-400"),
    ("property=name==a,,b", "FLOW-1453-400"),
    ('property=name==""', "FLOW-1453-400"),
    ("property=sandboxName>a", "FLOW-1448-400"),
]
# The Catalog list shares the filters and their codes; its own parameters have theirs.
CATALOG_ERRORS: list[tuple[str, str]] = [
    *((q.replace("createdAt", "created"), c) for q, c in ERRORS if q.startswith("property=")),
    ("orderBy=up:name", "FLOW-1432-400"),
    ("orderBy=name,", "FLOW-1432-400"),
    ("orderBy=nope", "FLOW-1433-400"),
    ("orderBy=desc:description", "FLOW-1433-400"),
    ("orderby=name", "FLOW-1451-400"),
    ("continuationToken=x", "FLOW-1451-400"),
    ("limit=0", "FLOW-1452-400"),
    ("limit=101", "FLOW-1452-400"),
    ("limit=abc", "FLOW-1452-400"),
    ("start=-1", "FLOW-1452-400"),
    ("start=x", "FLOW-1452-400"),
    ("properties=a b", "FLOW-1452-400"),
    ("count=maybe", "FLOW-1452-400"),
    ("name=a,,b", "FLOW-1453-400"),
    ("createdAfter=abc", "FLOW-1452-400"),
]


def test_every_error_code(caller: Caller) -> None:
    make_datasets(caller, *named("a", "b"))
    created_id(caller.post(CONNECTIONS, json=postgres_connection()))
    for query, code in ERRORS:
        assert_error(caller.get(f"{CONNECTIONS}?{query}"), code, f"{CONNECTIONS}?{query}")
    for query, code in CATALOG_ERRORS:
        assert_error(caller.get(f"{DATASETS}?{query}"), code, f"{DATASETS}?{query}")


def test_tampered_or_mismatched_tokens_are_1452(caller: Caller, settings: Settings) -> None:
    make_connections(caller, settings, "a", "b", "c")
    newest = ListQuery(order=OrderBy("createdAt", descending=True), limit=1)
    forged = [
        encode_token(newest, "not-a-number", "id"),
        encode_token(newest, {"x": 1}, "id"),
        encode_token(newest, True, "id"),
        encode_token(newest, None, "id"),
        encode_token(newest, 1.5, "id"),
        encode_token(newest, 2**70, "id"),
        encode_token(newest, 1, ["id"]),  # type: ignore[arg-type]
        encode_token(ListQuery(limit=0), 1, "id"),
        encode_token(ListQuery(limit=10**9), 1, "id"),
        encode_token(ListQuery(filters=(PropertyFilter("name", "~", ("a",)),)), 1, "id"),
        encode_token(ListQuery(filters=(PropertyFilter("name", "<", ("a", "b")),)), 1, "id"),
        encode_token(ListQuery(filters=(PropertyFilter("name;", "==", ("a",)),)), 1, "id"),
    ]
    for token in forged:
        assert_error(caller.get(f"{CONNECTIONS}?continuationToken={token}"), "FLOW-1452-400", token)
    # A token is only valid with the filters and order it was issued for.
    href = caller.get(f"{CONNECTIONS}?limit=1").json()["_links"]["next"]["href"]
    token = href.split("=", 1)[1]
    for other in ("property=name==a", "orderby=name"):
        url = f"{CONNECTIONS}?{other}&continuationToken={token}"
        assert_error(caller.get(url), "FLOW-1452-400", url)
    # The genuine token still works, and so does naming its own shape again.
    assert caller.get(f"{CONNECTIONS}?continuationToken={token}").status_code == 200
    again = caller.get(f"{CONNECTIONS}?orderby=-createdAt&continuationToken={token}")
    assert again.status_code == 200


def test_a_list_ends_its_read_in_the_route_and_a_write_commits_after_it(
    caller: Caller, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A Flow Service list commits in the route's own thread, so the session dependency has no second
    # thread hop to make; a write still commits through the dependency after the route.
    from sluice.api import deps

    ends: list[bool] = []
    real_end = deps._end

    def end(session: Any, *, commit: bool) -> None:
        ends.append(commit)
        real_end(session, commit=commit)

    monkeypatch.setattr(deps, "_end", end)
    created_id(caller.post(DATASETS, json=dataset("listed")))
    assert ends == [True]
    ends.clear()
    for path in (CONNECTIONS, f"{FS}/flows", f"{FS}/runs", f"{FS}/runs?count=true"):
        assert caller.get(path).status_code == 200
    assert ends == []
