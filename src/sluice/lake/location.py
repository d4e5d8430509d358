"""Where datasets live: a local folder or an object store, and how every lake call reaches it.

`SLUICE_LAKE_URI` names the lake's root: a folder (the default, `<data dir>/lake`), or
`s3://bucket/prefix`, `az://container/prefix` / `abfss://container@account.dfs.core.windows.net/prefix`,
or `gs://bucket/prefix` (Google Cloud Storage).
One set of storage options, built once from the settings and the standard variables delta-rs
reads itself (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT_URL`, `AZURE_STORAGE_ACCOUNT_NAME`,
`GOOGLE_SERVICE_ACCOUNT`, ...), is passed to every delta-rs call; the few reads delta-rs has no
API for (a commit's log entry, deleting a table) go through fsspec with the same credentials
(on Google Cloud Storage through pyarrow's built-in GCS client, which authenticates with
Application Default Credentials, i.e. `GOOGLE_APPLICATION_CREDENTIALS`, or an access token).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

if TYPE_CHECKING:  # settings import this module: delta-rs and fsspec load on first lake use
    import fsspec
    from deltalake import DeltaTable

LOCAL_SCHEMES = frozenset({"", "file"})
S3_SCHEMES = frozenset({"s3", "s3a"})
AZURE_SCHEMES = frozenset({"az", "abfs", "abfss", "azure"})
GCS_SCHEMES = frozenset({"gs"})
SUPPORTED_SCHEMES = LOCAL_SCHEMES | S3_SCHEMES | AZURE_SCHEMES | GCS_SCHEMES
# delta-rs commits on S3 safely only with a conditional put (or an external lock): Sluice
# asks for the ETag-based one unless the operator chose a mechanism.
_S3_SAFE_COMMIT = {"conditional_put": "etag"}
_UNSAFE_RENAME_KEY = "aws_s3_allow_unsafe_rename"
# How integer-like columns are written (lake/parquet_format.py): "delta" (DELTA_BINARY_PACKED,
# smaller and cheaper to write) or "plain" for readers that know no other encoding.
IntegerEncoding = Literal["delta", "plain"]


class LakeConfigurationError(ValueError):
    """The lake's URI or storage options cannot be used; the message says what to change."""


def _normalized(options: Mapping[str, str]) -> dict[str, str]:
    """delta-rs accepts `AWS_REGION` and `aws_region` alike; one spelling here."""
    return {key.lower(): str(value) for key, value in options.items()}


def _from_environment(prefixes: tuple[str, ...]) -> dict[str, str]:
    return {key.lower(): value for key, value in os.environ.items() if key.startswith(prefixes)}


@dataclass(frozen=True)
class LakeLocation:
    """The lake root, the storage options every call against it uses, and how its Parquet
    files encode integers."""

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)
    integer_encoding: IntegerEncoding = "delta"

    @property
    def scheme(self) -> str:
        return urlsplit(self.root).scheme.lower() if "://" in self.root else ""

    @property
    def is_local(self) -> bool:
        return self.scheme in LOCAL_SCHEMES

    def table_uri(self, *parts: str) -> str:
        """The URI of a table under the root (`parts` are ids: no slashes, no dots)."""
        for part in parts:
            if not part or "/" in part or part in (".", ".."):
                raise ValueError(f"Not a lake path part: {part!r}")
        if self.is_local:
            return str(Path(self.root.removeprefix("file://")).joinpath(*parts))
        return "/".join([self.root.rstrip("/"), *parts])

    def delta_options(self) -> dict[str, str] | None:
        """Storage options for deltalake (None for a local folder, which needs none)."""
        return None if self.is_local else dict(self.storage_options)

    def filesystem(self) -> tuple[fsspec.AbstractFileSystem, str]:
        """An fsspec file system on the lake, with the same credentials as delta-rs, and the
        prefix to strip from table URIs for it (fsspec paths carry no scheme)."""
        import fsspec

        if self.is_local:
            return fsspec.filesystem("file"), ""
        options = {**self._environment(), **self.storage_options}
        if self.scheme in S3_SCHEMES:
            return fsspec.filesystem("s3", **_s3fs_options(options)), f"{self.scheme}://"
        if self.scheme in GCS_SCHEMES:
            return _gcs_filesystem(options), f"{self.scheme}://"
        return fsspec.filesystem("abfs", **_adlfs_options(options)), f"{self.scheme}://"

    def fs_path(self, table_uri: str) -> str:
        """`table_uri` as a path of `filesystem()`."""
        if self.is_local:
            return table_uri.removeprefix("file://")
        path = table_uri.split("://", 1)[1]
        if self.scheme in AZURE_SCHEMES and "@" in path.split("/", 1)[0]:
            # abfss://container@account.dfs.core.windows.net/prefix -> container/prefix
            container, _, rest = path.partition("/")
            path = f"{container.split('@', 1)[0]}/{rest}"
        return path

    def _environment(self) -> dict[str, str]:
        if self.scheme in S3_SCHEMES:
            return _from_environment(("AWS_",))
        if self.scheme in GCS_SCHEMES:
            return _from_environment(("GOOGLE_",))
        return _from_environment(("AZURE_",))


def _s3fs_options(options: Mapping[str, str]) -> dict[str, Any]:
    client: dict[str, Any] = {}
    if "aws_region" in options:
        client["region_name"] = options["aws_region"]
    result: dict[str, Any] = {"client_kwargs": client}
    if "aws_access_key_id" in options:
        result["key"] = options["aws_access_key_id"]
        result["secret"] = options.get("aws_secret_access_key")
    if "aws_session_token" in options:
        result["token"] = options["aws_session_token"]
    endpoint = options.get("aws_endpoint_url") or options.get("aws_endpoint")
    if endpoint:
        result["endpoint_url"] = endpoint
    return result


def _gcs_filesystem(options: Mapping[str, str]) -> fsspec.AbstractFileSystem:
    """An fsspec view of pyarrow's built-in GCS client (no gcsfs dependency). Service account
    files and keys in the options are delta-rs's own; pyarrow finds the same credentials
    through Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, or the
    metadata server on Google Cloud)."""
    from fsspec.implementations.arrow import ArrowFSWrapper
    from pyarrow.fs import GcsFileSystem

    project = options.get("google_project_id")
    return ArrowFSWrapper(GcsFileSystem(project_id=project) if project else GcsFileSystem())


def _adlfs_options(options: Mapping[str, str]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    names = {
        "azure_storage_account_name": "account_name",
        "azure_storage_account_key": "account_key",
        "azure_storage_connection_string": "connection_string",
        "azure_storage_sas_token": "sas_token",
    }
    for option, argument in names.items():
        if option in options:
            result[argument] = options[option]
    if options.get("azure_storage_use_emulator", "").lower() == "true" or "azurite" in options.get(
        "azure_storage_endpoint", ""
    ):
        result.setdefault("account_name", "devstoreaccount1")
    if "azure_storage_endpoint" in options and "connection_string" not in result:
        account = result.get("account_name", "devstoreaccount1")
        endpoint = options["azure_storage_endpoint"].rstrip("/")
        result["connection_string"] = (
            f"DefaultEndpointsProtocol=http;AccountName={account};"
            f"AccountKey={result.get('account_key', '')};BlobEndpoint={endpoint};"
        )
    return result


def lake_location(
    root: str,
    options_json: str | None = None,
    *,
    allow_unsafe_rename: bool = False,
    integer_encoding: IntegerEncoding = "delta",
) -> LakeLocation:
    """The lake of the settings, checked: a supported scheme, options that are a JSON object
    of strings, and no unsafe S3 renames unless the operator said so explicitly."""
    scheme = urlsplit(root).scheme.lower() if "://" in root else ""
    if scheme not in SUPPORTED_SCHEMES:
        raise LakeConfigurationError(
            f"SLUICE_LAKE_URI scheme '{scheme}://' is not supported; use a folder, s3://, "
            "az://, abfss:// or gs://."
        )
    try:
        parsed = json.loads(options_json) if options_json else {}
    except json.JSONDecodeError as error:
        raise LakeConfigurationError(
            f"SLUICE_LAKE_STORAGE_OPTIONS is not JSON: {error.msg} at position {error.pos}."
        ) from None
    if not isinstance(parsed, dict) or not all(
        isinstance(k, str) and isinstance(v, str | int | float | bool) for k, v in parsed.items()
    ):
        raise LakeConfigurationError(
            "SLUICE_LAKE_STORAGE_OPTIONS must be a JSON object of names to strings."
        )
    options = _normalized(
        {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in parsed.items()}
    )
    if scheme in S3_SCHEMES:
        chosen = {**_from_environment(("AWS_",)), **options}
        unsafe = chosen.get(_UNSAFE_RENAME_KEY, "false").lower() == "true"
        if unsafe and not allow_unsafe_rename:
            raise LakeConfigurationError(
                "The lake is configured for unsafe renames (AWS_S3_ALLOW_UNSAFE_RENAME): two "
                "workers committing to one dataset could overwrite each other's commit. Use a "
                "store with conditional writes (the default), or set "
                "SLUICE_LAKE_ALLOW_UNSAFE_RENAME=true if only one process ever writes."
            )
        if not unsafe and not any(
            k in chosen
            for k in ("conditional_put", "aws_conditional_put", "aws_s3_locking_provider")
        ):
            options = {**_S3_SAFE_COMMIT, **options}
    return LakeLocation(root=root, storage_options=options, integer_encoding=integer_encoding)


LOCAL_LAKE = LakeLocation(root="")


@dataclass(frozen=True)
class LakeTable:
    """One Delta table of the lake: its URI and the options that reach it."""

    uri: str
    lake: LakeLocation = LOCAL_LAKE

    @property
    def storage_options(self) -> dict[str, str] | None:
        return self.lake.delta_options()

    def open(self) -> DeltaTable | None:
        """The table's latest snapshot; None when no table exists there yet."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.uri, storage_options=self.storage_options)
        except TableNotFoundError:
            return None

    def read_log_entry(self, version: int) -> str | None:
        """The text of the commit `version`'s log file; None when there is none."""
        fs, _ = self.lake.filesystem()
        path = f"{self.lake.fs_path(self.uri).rstrip('/')}/_delta_log/{version:020d}.json"
        try:
            with fs.open(path, "rb") as handle:
                return bytes(handle.read()).decode("utf-8")
        except FileNotFoundError:
            return None

    def delete(self) -> None:
        """Remove the table's files and log (a dataset's delete); nothing if none exist."""
        fs, _ = self.lake.filesystem()
        path = self.lake.fs_path(self.uri)
        try:
            fs.rm(path, recursive=True)
        except FileNotFoundError:
            return


TableRef = LakeTable | str  # a str is a local folder (tests, benchmarks, the embedded lake)


def as_lake_table(ref: TableRef) -> LakeTable:
    return ref if isinstance(ref, LakeTable) else LakeTable(ref)
