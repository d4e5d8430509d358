"""File formats on a real folder: quote and escape characters, deflate streams, zip and tar
archives (members, their order, bad rows inside them), malformed archives, and read limits."""

from __future__ import annotations

import gzip
import io
import tarfile
import zipfile
import zlib
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from sluice.connectors.contract import ConnectorContext
from sluice.connectors.errors import SourceReadError
from sluice.connectors.files.local import CONNECTOR as LOCAL_FILES
from sluice.connectors.reading import SOURCE_FILE_COLUMN, ReadRequest
from support.connector_reads import T0, file_source, read_folder, write_file

read, source, write = read_folder, file_source, write_file


def zip_bytes(members: dict[str, str | bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def tar_bytes(members: dict[str, str], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        archive.addfile(tarfile.TarInfo("folder"), None)
        archive.getmember("folder").type = tarfile.DIRTYPE
        for name, content in members.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_quote_and_escape_characters(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "quoted.csv", "id;note\n1;'a;b'\n2;'it\\'s'\n")
    table, _ = read(context, allowed_root,
                    source("quoted.csv", columnDelimiter=";", quoteChar="'", escapeChar="\\"))
    assert table.column("note").to_pylist() == ["a;b", "it's"]
    # With the default quote character, the single quotes are data and `;` splits the value.
    write(allowed_root, "plain.csv", "id;note\n1;'x'\n")
    table, _ = read(context, allowed_root, source("plain.csv", columnDelimiter=";"))
    assert table.column("note").to_pylist() == ["'x'"]


def test_option_of_more_than_one_character_is_refused(
    context: ConnectorContext, allowed_root: Path
) -> None:
    with pytest.raises(SourceReadError, match="quoteChar") as caught:
        LOCAL_FILES.read(context, {"rootPath": str(allowed_root)},
                    source("*.csv", quoteChar="''"), ReadRequest(None))
    assert caught.value.code == "CONNECTOR-2001-500"


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_streams_with_and_without_header(
    context: ConnectorContext, allowed_root: Path, wbits: int
) -> None:
    rows = "".join(f"{i},{i * 2}\n" for i in range(50_000))
    compressor = zlib.compressobj(9, zlib.DEFLATED, wbits)
    data = compressor.compress(f"id,twice\n{rows}".encode()) + compressor.flush()
    write(allowed_root, "big.deflate", data)
    table, opened = read(context, allowed_root, source("big.deflate", compression="deflate"))
    assert table.num_rows == 50_000
    assert table.column("twice").to_pylist()[-1] == 99_998
    assert opened.progress.input_bytes == len(data)


def test_truncated_deflate_is_terminal(context: ConnectorContext, allowed_root: Path) -> None:
    data = zlib.compress(b"id\n" + b"1\n" * 100_000)
    write(allowed_root, "cut.deflate", data[: len(data) // 2])
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("cut.deflate", compression="deflate"))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"cut.deflate"' in caught.value.message


def test_zip_members_are_read_in_name_order(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "days.zip", zip_bytes({
        "b/day2.csv": "id,day\n2,2\n",
        "a/day1.csv": "id,day\n1,1\n",
        "empty.csv": "",
        "__MACOSX/._day1.csv": "junk",
        ".hidden.csv": "id,day\n9,9\n",
        "day3.csv": "id,day\n3,3\n",
    }))
    table, opened = read(context, allowed_root, source("*.zip", compression="zipDeflate"))
    assert table.column("id").to_pylist() == [1, 2, 3]
    assert set(table.column(SOURCE_FILE_COLUMN).to_pylist()) == {"days.zip"}
    assert [f.path for f in opened.progress.files] == ["days.zip"]


@pytest.mark.parametrize(("compression", "mode"), [("tar", "w"), ("tarGzip", "w:gz")])
def test_tar_members_and_bad_rows_inside_them(
    context: ConnectorContext, allowed_root: Path, compression: str, mode: str
) -> None:
    write(allowed_root, "batch.tar", tar_bytes({
        "folder/one.csv": "id,name\n1,a\n",
        "folder/two.csv": "id,name\n2,b\n3\n4,d\n",
    }, mode))
    table, opened = read(context, allowed_root, source("batch.tar", compression=compression))
    assert table.column("name").to_pylist() == ["a", "b", "d"]
    assert [(b.location, b.raw) for b in opened.progress.bad_rows] == [
        ("batch.tar!folder/two.csv:3", "3")
    ]


def test_json_lines_inside_a_zip(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "events.zip", zip_bytes({"1.json": '{"id": 1}\n', "2.json": '{"id": 2}\n'}))
    table, _ = read(context, allowed_root, source("events.zip", "json", compression="zipDeflate"))
    assert table.column("id").to_pylist() == [1, 2]


def test_member_with_other_columns_is_named(context: ConnectorContext, allowed_root: Path) -> None:
    write(allowed_root, "mixed.zip", zip_bytes({"1.csv": "id\n1\n", "2.csv": "code\nx\n"}))
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("mixed.zip", compression="zipDeflate"))
    assert '"mixed.zip!2.csv" has columns code' in caught.value.message


@pytest.mark.parametrize(("compression", "content"), [
    ("zipDeflate", b"PK\x03\x04 this is no zip archive"),
    ("tar", b"not a tar archive at all" * 30),
    ("tarGzip", gzip.compress(b"not a tar archive at all" * 30)),
    ("gzip", b"plain text, not gzip"),
], ids=["zip", "tar", "tar.gz", "gzip"])  # (gzip bytes hold a time: not stable as an id)
def test_malformed_archive_is_a_coded_terminal_error(
    context: ConnectorContext, allowed_root: Path, compression: str, content: bytes
) -> None:
    write(allowed_root, "in/broken.bin", content)
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("in", compression=compression))
    assert caught.value.transient is False
    assert caught.value.code == "CONNECTOR-2001-500"
    assert '"in/broken.bin"' in caught.value.message


def test_truncated_zip_member_is_terminal(context: ConnectorContext, allowed_root: Path) -> None:
    whole = zip_bytes({"a.csv": "id\n" + "1\n" * 50_000, "b.csv": "id\n2\n"})
    write(allowed_root, "cut.zip", whole[:200] + whole[-300:])
    with pytest.raises(SourceReadError) as caught:
        read(context, allowed_root, source("cut.zip", compression="zipDeflate"))
    assert caught.value.code == "CONNECTOR-2001-500"
    assert "cut.zip" in caught.value.message


def test_limit_stops_after_n_rows_and_opens_no_later_file(
    context: ConnectorContext, allowed_root: Path
) -> None:
    write(allowed_root, "1.csv", "id\n" + "".join(f"{i}\n" for i in range(10)), T0)
    write(allowed_root, "2.csv", "id\n" + "".join(f"{i}\n" for i in range(10, 20)), T0 + 1)
    write(allowed_root, "3.csv", "id\nnot a number\n", T0 + 2)  # would fail if it were read
    table, opened = read(context, allowed_root, source("*.csv"),
                         ReadRequest(window=None, limit=13, batch_rows=4))
    assert table.column("id").to_pylist() == list(range(13))
    assert opened.progress.input_records == 13
    table, _ = read(context, allowed_root, source("1.csv"), ReadRequest(window=None, limit=3))
    assert table.num_rows == 3


def test_limit_on_parquet(context: ConnectorContext, allowed_root: Path) -> None:
    pq.write_table(pa.table({"id": list(range(1000))}), allowed_root / "p.parquet",
                   row_group_size=100)
    table, _ = read(context, allowed_root, source("p.parquet", "parquet"),
                    ReadRequest(window=None, limit=250))
    assert table.column("id").to_pylist() == list(range(250))
