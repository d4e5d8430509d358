"""The files reader on a real folder: selection by glob and mtime, formats, bad rows, errors."""

from __future__ import annotations

import bz2
import gzip
import os
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.contract import ConnectorContext, FunctionConnector
from sluice.connectors.errors import ExploreError, SourceMissingError, SourceReadError
from sluice.connectors.files.local import CONNECTOR as LOCAL_FILES
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest, SourceFile
from sluice.connectors.registry import find_connector
from sluice.domain.windows import Window
from support.connector_reads import T0, file_source, files_of, read_all, read_folder, write_file

read, source, write = read_folder, file_source, write_file


def auth(root: Path) -> dict[str, Any]:
    return {"rootPath": str(root)}


def test_glob_and_recursive(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "a.csv", "id,name\n1,a\n")
    write(allowed_root, "b.csv", "id,name\n2,b\n")
    write(allowed_root, "notes.txt", "id,name\n9,z\n")
    write(allowed_root, "sub/c.csv", "id,name\n3,c\n")
    write(allowed_root, "sub/deeper/d.csv", "id,name\n4,d\n")
    write(allowed_root, ".hidden.csv", "id,name\n5,h\n")
    table, _ = read(context, allowed_root, source("*.csv"))
    assert files_of(table) == ["a.csv", "b.csv"]
    table, _ = read(context, allowed_root, source("/*.csv", recursive="true"))
    assert files_of(table) == ["a.csv", "b.csv", "sub/c.csv", "sub/deeper/d.csv"]
    table, _ = read(context, allowed_root, source("sub"))
    assert files_of(table) == ["sub/c.csv"]
    table, _ = read(context, allowed_root, source("sub", recursive=True))
    assert files_of(table) == ["sub/c.csv", "sub/deeper/d.csv"]
    table, opened = read(context, allowed_root, source("sub/c.csv"))
    assert table.to_pylist() == [{"id": 3, "name": "c", SOURCE_FILE_COLUMN: "sub/c.csv"}]
    assert opened.progress.files == [SourceFile("sub/c.csv", 12, float(T0))]
    assert opened.progress.input_bytes == 12
    assert opened.progress.input_records == 1


def test_mtime_window_boundaries(context: ConnectorContext, allowed_root: Path) -> None:
    start, end = T0, T0 + 3600
    for name, mtime in {"before": start - 1, "at_start": start, "inside": start + 0.5,
                        "last": end - 0.001, "at_end": end}.items():
        write(allowed_root, f"{name}.csv", f"file\n{name}\n", mtime)
    request = ReadRequest(window=Window(start, end))
    table, opened = read(context, allowed_root, source("*.csv"), request)
    assert files_of(table) == ["at_start.csv", "inside.csv", "last.csv"]
    assert [f.path for f in opened.progress.files] == ["at_start.csv", "inside.csv", "last.csv"]
    following, _ = read(context, allowed_root, source("*.csv"), ReadRequest(Window(end, end + 1)))
    assert files_of(following) == ["at_end.csv"]


def test_explicit_file_list_is_reread_whatever_the_window(
    context: ConnectorContext, allowed_root: Path
) -> None:
    write(allowed_root, "x/one.csv", "v\n1\n", T0)
    write(allowed_root, "x/two.csv", "v\n2\n", T0 + 10)
    first, opened = read(context, allowed_root, source("x/*.csv"), ReadRequest(Window(T0, T0 + 5)))
    assert files_of(first) == ["x/one.csv"]
    retry = ReadRequest(window=Window(T0 + 100, T0 + 200), files=tuple(opened.progress.files))
    again, _ = read(context, allowed_root, source("x/*.csv"), retry)
    assert again.to_pylist() == first.to_pylist()
    (allowed_root / "x" / "one.csv").unlink()
    with pytest.raises(SourceReadError) as caught:
        LOCAL_FILES.read(context, auth(allowed_root), source("x/*.csv"), retry)
    assert caught.value.transient is False
    assert "x/one.csv" in caught.value.message


def test_listed_file_cannot_escape_the_root(
    context: ConnectorContext, allowed_root: Path, tmp_path: Path
) -> None:
    write(tmp_path, "secret.csv", "s\n1\n")
    for path in ("../secret.csv", str(tmp_path / "secret.csv")):
        request = ReadRequest(window=None, files=(SourceFile(path, 4, T0),))
        with pytest.raises(SourceReadError):
            LOCAL_FILES.read(context, auth(allowed_root), source("*.csv"), request)


def test_symlinks_out_of_the_root_are_skipped(
    context: ConnectorContext, allowed_root: Path, tmp_path: Path
) -> None:
    outside = write(tmp_path, "outside/secret.csv", "s\n1\n")
    write(allowed_root, "in.csv", "s\n2\n")
    (allowed_root / "link.csv").symlink_to(outside)
    (allowed_root / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    (allowed_root / "inner.csv").symlink_to(allowed_root / "in.csv")
    table, _ = read(context, allowed_root, source("*.csv"))
    assert table.column("s").to_pylist() == [2]
    table, _ = read(context, allowed_root, source("linkdir", recursive=True))
    assert table.num_rows == 0
    with pytest.raises(SourceReadError):
        read(context, allowed_root, source("../outside/*.csv"))


def test_header_false_and_delimiter(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "plain.tsv", "1\talpha\n2\tbeta\n")
    table, _ = read(context, allowed_root, source("plain.tsv", header=False, columnDelimiter="\t"))
    assert table.column_names == ["f0", "f1", SOURCE_FILE_COLUMN]
    assert table.column("f1").to_pylist() == ["alpha", "beta"]


@pytest.mark.parametrize(("codec", "compress"), [("gzip", gzip.compress), ("bzip2", bz2.compress)])
def test_compressed_files(
    context: ConnectorContext, allowed_root: Path, codec: str, compress: Any
) -> None:
    write(allowed_root, "data.csv.z", compress(b"id,amount\n1,2.5\n2,3.5\n"))
    table, opened = read(
        context, allowed_root, source("*.z", properties={"compressionType": codec})
    )
    assert table.column("amount").to_pylist() == [2.5, 3.5]
    assert opened.progress.input_bytes == (allowed_root / "data.csv.z").stat().st_size


def test_truncated_gzip_is_terminal(context: ConnectorContext, allowed_root: Path) -> None:
    data = gzip.compress(b"id,amount\n" + b"1,2.5\n" * 10_000)
    write(allowed_root, "cut.csv.gz", data[: len(data) // 2])
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("*.gz", properties={"compressionType": "gzip"}))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"cut.csv.gz"' in caught.value.message


def test_unsupported_compression(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "a.sz", b"PK")
    with pytest.raises(SourceReadError, match="not supported") as caught:
        LOCAL_FILES.read(context, auth(allowed_root),
                    source("*.sz", properties={"compressionType": "snappy"}),
                    ReadRequest(window=None))
    assert caught.value.transient is False


def test_rows_with_wrong_field_count_are_recorded_and_skipped(
    context: ConnectorContext, allowed_root: Path
) -> None:
    write(allowed_root, "bad.csv", "id,name,day\n1,a,2024-01-01\n2,b\n3,c,2024-01-03,extra\n"
                                   '4,"multi\nline",2024-01-04\n5,e,2024-01-05\n')
    table, opened = read(context, allowed_root, source("bad.csv"))
    assert table.column("id").to_pylist() == [1, 4, 5]
    assert table.column("name").to_pylist() == ["a", "multi\nline", "e"]
    bad = opened.progress.bad_rows
    assert [(b.location, b.reason, b.raw) for b in bad] == [
        ("bad.csv:3", "expected 3 fields, found 2", "2,b"),
        ("bad.csv:4", "expected 3 fields, found 4", "3,c,2024-01-03,extra"),
    ]
    assert opened.progress.input_records == 3


def test_json_lines(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "a.json", '{"id": 1, "tags": ["x"], "name": "a"}\n{"id": 2}\n', T0)
    write(allowed_root, "b.json", '{"id": 3, "name": "c"}\n', T0 + 1)
    table, _ = read(context, allowed_root, source("*.json", "json"))
    assert table.schema.field("id").type == pa.int64()
    assert table.to_pylist() == [
        {"id": 1, "tags": ["x"], "name": "a", SOURCE_FILE_COLUMN: "a.json"},
        {"id": 2, "tags": None, "name": None, SOURCE_FILE_COLUMN: "a.json"},
        {"id": 3, "tags": None, "name": "c", SOURCE_FILE_COLUMN: "b.json"},
    ]


def test_json_with_a_new_field_is_a_schema_mismatch(
    context: ConnectorContext, allowed_root: Path
) -> None:
    write(allowed_root, "a.json", '{"id": 1}\n', T0)
    write(allowed_root, "b.json", '{"id": 2, "extra": true}\n', T0 + 1)
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("*.json", "json"))
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"b.json"' in caught.value.message


def test_parquet_in_bounded_batches(context: ConnectorContext, allowed_root: Path) -> None:
    for index in range(2):
        chunk = pa.table({"id": pa.array(range(index * 5000, (index + 1) * 5000), pa.int64()),
                          "amount": pa.array([Decimal("1.50")] * 5000, pa.decimal128(9, 2))})
        pq.write_table(chunk, allowed_root / f"p{index}.parquet", row_group_size=3000)
        os.utime(allowed_root / f"p{index}.parquet", (T0 + index, T0 + index))
    opened = LOCAL_FILES.read(context, auth(allowed_root), source("*.parquet", "parquet"),
                         ReadRequest(window=None, batch_rows=1000))
    table, batches = read_all(opened)
    assert table.num_rows == 10_000
    assert table.schema.field("amount").type == pa.decimal128(9, 2)
    assert all(0 < b.num_rows <= 1000 for b in batches)
    assert table.column("id").to_pylist() == list(range(10_000))


@pytest.mark.parametrize("file_format", ["delimited", "json"])
def test_a_file_of_a_few_mib_is_parsed_in_one_batch(
    context: ConnectorContext, allowed_root: Path, file_format: str
) -> None:
    """Each batch costs fixed work downstream, so a text file is parsed in blocks of a few MiB
    (pyarrow's 1 MiB default would cut this one into three or more)."""
    rows = 30_000
    if file_format == "delimited":
        text = "id,note\n" + "".join(f"{i},{'x' * 90}\n" for i in range(rows))
        name = "big.csv"
    else:
        text = "".join(f'{{"id": {i}, "note": "{"x" * 80}"}}\n' for i in range(rows))
        name = "big.json"
    assert 2 << 20 < len(text) < 4 << 20
    write(allowed_root, name, text)
    opened = LOCAL_FILES.read(context, auth(allowed_root), source(name, file_format),
                              ReadRequest(window=None))
    table, batches = read_all(opened)
    assert table.num_rows == rows
    assert [b.num_rows for b in batches] == [rows]


def test_truncated_parquet_is_terminal(context: ConnectorContext, allowed_root: Path) -> None:
    pq.write_table(pa.table({"id": list(range(1000))}), allowed_root / "whole.parquet")
    data = (allowed_root / "whole.parquet").read_bytes()
    write(allowed_root, "whole.parquet", data[: len(data) - 20])
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("*.parquet", "parquet"))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"whole.parquet"' in caught.value.message


def test_files_with_different_columns_fail(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "1.csv", "id,name\n1,a\n", T0)
    write(allowed_root, "2.csv", "id,label\n2,b\n", T0 + 1)
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("*.csv"))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"2.csv" has columns id, label' in caught.value.message
    pq.write_table(pa.table({"id": [1]}), allowed_root / "1.parquet")
    pq.write_table(pa.table({"id": [2], "more": [3]}), allowed_root / "2.parquet")
    os.utime(allowed_root / "2.parquet", (T0 + 1, T0 + 1))
    os.utime(allowed_root / "1.parquet", (T0, T0))
    with pytest.raises(SourceReadError, match=r"2\.parquet"):
        read(context, allowed_root, source("*.parquet", "parquet"))


def test_later_files_take_the_first_files_types(
    context: ConnectorContext, allowed_root: Path
) -> None:
    write(allowed_root, "1.csv", "id,code,note\n1,007,\n", T0)
    write(allowed_root, "2.csv", "id,code,note\n2,8,text\n", T0 + 1)
    table, _ = read(context, allowed_root, source("*.csv"))
    assert table.schema.field("code").type == pa.int64()
    assert table.schema.field("note").type == pa.string()  # no value in the first file
    assert table.column("note").to_pylist() == [None, "text"]
    write(allowed_root, "3.csv", "id,code,note\nthree,9,x\n", T0 + 2)
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("*.csv"))
    assert '"3.csv"' in caught.value.message


def test_empty_files_and_no_files(context: ConnectorContext, allowed_root: Path) -> None:
    # An existing folder with no file is an empty read...
    table, opened = read(context, allowed_root, source(""))
    assert table.num_rows == 0
    assert opened.schema.names == [SOURCE_FILE_COLUMN]
    # ...a glob that matches nothing at all, or a path that does not exist, is a coded
    # error naming it (issue 13: a source that can only ever "succeed" with 0 files).
    for missing in ("*.csv", "in/today.csv", "nowhere"):
        with pytest.raises(SourceMissingError) as caught:
            read(context, allowed_root, source(missing))
        assert caught.value.code == "CONNECTOR-1002-500"
        assert repr(missing) in caught.value.message
    write(allowed_root, "0.csv", "", T0)
    write(allowed_root, "1.csv", "id\n1\n", T0 + 1)
    table, opened = read(context, allowed_root, source("*.csv"))
    assert table.column("id").to_pylist() == [1]
    assert [f.path for f in opened.progress.files] == ["0.csv", "1.csv"]


def test_missing_root_folder(context: ConnectorContext, allowed_root: Path) -> None:
    with pytest.raises(SourceReadError) as caught:
        LOCAL_FILES.read(context, auth(allowed_root / "nope"), source("*.csv"), ReadRequest(None))
    assert caught.value.transient is False


def test_spec_sets_the_reader() -> None:
    connector = find_connector("bc3ffdcf-1b46-41ec-b156-a8c195929f8a")
    assert isinstance(connector, FunctionConnector)
    assert connector is LOCAL_FILES and connector.opener is not None


def test_listing_a_local_folder(
    context: ConnectorContext, allowed_root: Path, tmp_path: Path
) -> None:
    spec = find_connector("bc3ffdcf-1b46-41ec-b156-a8c195929f8a")
    assert spec is not None
    write(allowed_root, "b.csv", "id\n1\n", T0)
    write(allowed_root, "sub/c.csv", "id\n2\n")
    write(allowed_root, ".hidden.csv", "id\n3\n")
    outside = write(tmp_path, "outside/secret.csv", "s\n1\n")
    (allowed_root / "link.csv").symlink_to(outside)
    (allowed_root / "linkdir").symlink_to(outside.parent, target_is_directory=True)
    (allowed_root / "inner.csv").symlink_to(allowed_root / "b.csv")
    listed = spec.explore(context, auth(allowed_root), "root", None)
    assert [(i.type, i.path) for i in listed] == [
        ("folder", "sub"), ("file", "b.csv"), ("file", "inner.csv")]
    assert listed[1].size == 5 and listed[1].modified_at == T0 and listed[1].can_preview
    inside = spec.explore(context, auth(allowed_root), "folder", "sub")
    assert [(i.name, i.path) for i in inside] == [("c.csv", "sub/c.csv")]
    for place in ("linkdir", "nope", "../outside", "sub/../../outside"):
        with pytest.raises(ExploreError):
            spec.explore(context, auth(allowed_root), "folder", place)
