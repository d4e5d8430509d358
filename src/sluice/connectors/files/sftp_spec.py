"""The SFTP connection spec: a server reached with a password or a private key.

No driver, no Arrow: the registry lists it without importing the connector (files/sftp.py).
"""

from __future__ import annotations

from typing import Any

from sluice.connectors.files.file_spec import file_connection_spec
from sluice.connectors.spec_schemas import auth_spec, port_schema

DEFAULT_PORT = 22

FINGERPRINT_PATTERN = r"^(SHA256:)?[A-Za-z0-9+/]{43}=?$"

_SERVER_PROPERTIES: dict[str, Any] = {
    "host": {"type": "string", "minLength": 1, "description": "Name or address of the server."},
    "port": port_schema(DEFAULT_PORT),
    "username": {"type": "string", "minLength": 1},
    "rootPath": {
        "type": "string",
        "minLength": 1,
        "description": "Folder all paths are taken from; absolute, or relative to the user's"
        " home folder (the default).",
    },
    "hostKeyFingerprint": {
        "type": "string",
        "pattern": FINGERPRINT_PATTERN,
        "description": "SHA256 fingerprint of the server's host key (`ssh-keygen -lf`), e.g."
        " SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU. Without it any host key is"
        " accepted.",
    },
}

BASIC_AUTH = auth_spec(
    "Basic Authentication for SFTP",
    "SFTP",
    {
        **_SERVER_PROPERTIES,
        "password": {"type": "string", "format": "password", "minLength": 1},
    },
    ["host", "username", "password"],
)

PUBLIC_KEY_AUTH = auth_spec(
    "SSH Public Key Authentication for SFTP",
    "SFTP",
    {
        **_SERVER_PROPERTIES,
        "privateKeyContent": {
            "type": "string",
            "format": "password",
            "minLength": 1,
            "description": "The private key (OpenSSH, PKCS#1 or PKCS#8), as PEM text or"
            " base64 of it.",
        },
        "passPhrase": {
            "type": "string",
            "format": "password",
            "description": "The private key's passphrase, if it is encrypted.",
        },
    },
    ["host", "username", "privateKeyContent"],
)


SPEC = file_connection_spec(
    id="e9572be9-2343-492c-84d9-cef0a02facbd",
    name="SFTP",
    description="Delimited, JSON and Parquet files on an SFTP server.",
    auth_specs=(BASIC_AUTH, PUBLIC_KEY_AUTH),
)
