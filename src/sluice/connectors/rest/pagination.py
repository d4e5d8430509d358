"""Walking an endpoint's pages, in each pagination style, until the last one.

- `none`: one request.
- `pageNumber`: `pageParam` = startPage, startPage + 1, ...; `offset`: `offsetParam` = 0,
  then the number of records read so far. Both stop at an empty page, or at a page shorter
  than `pageSize` when it is set.
- `cursor`: the next request sends the value `cursorPath` selects in this page's body as
  `cursorParam`; stops when there is none (missing, null or empty).
- `linkHeader`: follows `Link: <url>; rel="next"` (on the base URL's host only) until absent.

Every style stops after `maxPages` pages when it is set. A server that ignores the paging
parameters would make a paged read loop forever: a page identical to the one before (same
body), a cursor or a next link seen before, ends the read with an error instead.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import jsonpath

from sluice.connectors.errors import SourceReadError, TerminalReadError
from sluice.connectors.rest.client import Response, RestClient, display
from sluice.connectors.rest.config import Pagination, compiled_path, same_origin


@dataclass(frozen=True)
class Page:
    number: int  # 1 for the first page read
    response: Response
    records: list[Any]


Selector = Callable[[Any], list[Any]]


def _loop(message: str) -> SourceReadError:
    return TerminalReadError(
        f"{message}; the server seems to ignore the pagination parameters. Check the source's "
        "pagination settings.",
    )


def pages(
    client: RestClient,
    url: str,
    query: Mapping[str, str],
    pagination: Pagination,
    select: Selector,
) -> Generator[Page, None, None]:
    """The endpoint's pages in order, each with its selected records."""
    walk = {
        "none": _single,
        "pageNumber": _counted,
        "offset": _counted,
        "cursor": _cursor,
        "linkHeader": _linked,
    }[pagination.type]
    previous_digest: str | None = None
    for number, page in enumerate(walk(client, url, dict(query), pagination, select), start=1):
        if pagination.type in ("pageNumber", "offset") and page.records:
            if page.response.digest == previous_digest:
                raise _loop(f"Page {number} of {display(url)} is the same as page {number - 1}")
            previous_digest = page.response.digest
        yield Page(number, page.response, page.records)
        if pagination.max_pages is not None and number >= pagination.max_pages:
            return


def _fetch(client: RestClient, url: str, query: Mapping[str, str], select: Selector) -> Page:
    response = client.get(url, query)
    return Page(0, response, select(response.body))


def _single(
    client: RestClient, url: str, query: dict[str, str], pagination: Pagination, select: Selector
) -> Iterator[Page]:
    yield _fetch(client, url, query, select)


def _is_last(page: Page, pagination: Pagination) -> bool:
    count = len(page.records)
    return count == 0 or (pagination.page_size is not None and count < pagination.page_size)


def _counted(
    client: RestClient, url: str, query: dict[str, str], pagination: Pagination, select: Selector
) -> Iterator[Page]:
    """`pageNumber` and `offset`: each request sends a counter, until the last page. A page
    number starts at `startPage` and counts pages; an offset starts at 0 and counts records."""
    by_number = pagination.type == "pageNumber"
    param = pagination.page_param if by_number else pagination.offset_param
    counter = pagination.start_page if by_number else 0
    while True:
        page = _fetch(
            client, url, {**query, **pagination.size_query(), param: str(counter)}, select
        )
        yield page
        if _is_last(page, pagination):
            return
        counter += 1 if by_number else len(page.records)


def _next_cursor(body: Any, path: jsonpath.JSONPath | jsonpath.CompoundJSONPath) -> str | None:
    found = path.findall(body)
    value = found[0] if found else None
    if value is None or isinstance(value, (dict, list)) or value == "":
        return None
    return str(value).lower() if isinstance(value, bool) else str(value)


def _cursor(
    client: RestClient, url: str, query: dict[str, str], pagination: Pagination, select: Selector
) -> Iterator[Page]:
    assert pagination.cursor_path is not None  # checked when the params were parsed
    path = compiled_path(pagination.cursor_path, "cursorPath")
    seen: set[str] = set()
    cursor: str | None = None
    while True:
        extra = {pagination.cursor_param: cursor} if cursor is not None else {}
        page = _fetch(client, url, {**query, **pagination.size_query(), **extra}, select)
        yield page
        cursor = _next_cursor(page.response.body, path)
        if cursor is None:
            return
        if cursor in seen:
            raise _loop(f"{display(url)} returned the cursor of an earlier page again")
        seen.add(cursor)


def _linked(
    client: RestClient, url: str, query: dict[str, str], pagination: Pagination, select: Selector
) -> Iterator[Page]:
    page = _fetch(client, url, {**query, **pagination.size_query()}, select)
    seen = {page.response.url}
    while True:
        yield page
        link = page.response.next_link
        if link is None:
            return
        if not same_origin(link, client.auth.base_url):
            raise TerminalReadError(
                f"The next-page link of {display(url)} leads to another host; Sluice follows "
                "links only on the base URL's host.",
            )
        if link in seen:
            raise _loop(f"The next-page link of {display(url)} points to an earlier page")
        seen.add(link)
        # The link carries the whole query (window and page size included): sent as is.
        page = _fetch(client, link, {}, select)
