"""`sluice connections create`: a base connection from a connection spec, field by field.

Each field of the chosen auth spec's JSON Schema is asked for in turn (secrets without echo);
`--from-file` takes the whole request body instead, for scripts. The API validates the body
and its coded error is what the user sees.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from sluice.cli.output import OutputFormat, OutputOption, console, fail, print_json
from sluice.cli.output import reported_errors as api_errors
from sluice.cli.remote import DEFAULT_URL, CredentialsOption, UrlOption, open_client
from sluice.client import JsonObject, SluiceClient


def find_spec(client: SluiceClient, wanted: str) -> JsonObject:
    """The connection spec named `wanted` (any case) or with that id; one line if none."""
    specs = client.connection_specs.list()
    folded = wanted.strip().casefold()
    for spec in specs:
        if str(spec.get("id")) == wanted.strip() or str(spec.get("name", "")).casefold() == folded:
            return spec
    names = ", ".join(sorted(str(s.get("name")) for s in specs))
    fail(f"--spec: no connection spec named '{wanted}'; the specs are: {names}")


def _choose_auth_spec(spec: JsonObject, wanted: str | None) -> JsonObject:
    auth_specs = list(spec.get("authSpec") or [])
    if not auth_specs:
        fail(f"connection spec {spec.get('name')} takes no credentials")
    names = [str(a.get("name")) for a in auth_specs]
    if wanted is None and len(auth_specs) > 1:
        for i, name in enumerate(names, 1):
            console.print(f"  {i}. {name}", highlight=False)
        answer = typer.prompt("Authentication", default="1")
        wanted = (
            names[int(answer) - 1] if answer.isdigit() and 0 < int(answer) <= len(names) else answer
        )
    if wanted is None:
        return dict(auth_specs[0])
    for auth in auth_specs:
        if str(auth.get("name", "")).casefold() == wanted.casefold():
            return dict(auth)
    fail(f"--auth: '{wanted}' is not one of: {', '.join(names)}")


def _prompt_field(name: str, schema: dict[str, Any], required: bool) -> Any:
    """One field's value from the terminal, typed as its schema says; None to leave it out."""
    kind = schema.get("type")
    secret = schema.get("format") == "password"
    label = name + ("" if required else " (optional)")
    description = schema.get("description")
    if description:
        console.print(f"[dim]({description})[/dim]", highlight=False)
    if schema.get("enum"):
        label += f" [{'/'.join(str(v) for v in schema['enum'])}]"
    if kind == "boolean":
        return typer.confirm(label, default=bool(schema.get("default", False)))
    default = schema.get("default")
    while True:
        text = typer.prompt(
            label,
            default="" if default is None else str(default),
            hide_input=secret,
            show_default=not secret and default is not None,
        ).strip()
        if not text:
            if required:
                console.print(f"{name} is required.", style="red", highlight=False)
                continue
            return None
        if kind == "integer":
            if not text.lstrip("-").isdigit():
                console.print(f"{name} must be a whole number.", style="red", highlight=False)
                continue
            return int(text)
        if kind in ("object", "array"):
            try:
                return json.loads(text)
            except ValueError:
                console.print(f"{name} must be JSON.", style="red", highlight=False)
                continue
        return text


def prompt_params(auth: JsonObject) -> dict[str, Any]:
    schema = auth.get("spec") or {}
    required = set(schema.get("required") or [])
    params: dict[str, Any] = {}
    for name, field in (schema.get("properties") or {}).items():
        value = _prompt_field(name, dict(field), name in required)
        if value is not None:
            params[name] = value
    return params


def _read_body(path: Path) -> dict[str, Any]:
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text(encoding="utf-8")
        body = json.loads(text)
    except (OSError, ValueError) as error:
        fail(f"--from-file: cannot read a JSON body from {path}: {error}")
    if not isinstance(body, dict):
        fail(f"--from-file: {path} must hold a JSON object (the connection's request body)")
    return body


def create_connection(
    spec: Annotated[
        str | None, typer.Option("--spec", help="Connection spec name or id, e.g. PostgreSQL.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="The connection's name.")] = None,
    auth: Annotated[
        str | None, typer.Option("--auth", help="Auth spec name, e.g. 'Basic Authentication'.")
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from-file",
            help="The whole request body as JSON ('-' for stdin), for scripts; no prompts.",
        ),
    ] = None,
    test: Annotated[bool, typer.Option("--test", help="Test the connection once created.")] = False,
    output: OutputOption = OutputFormat.table,
    url: UrlOption = DEFAULT_URL,
    credentials: CredentialsOption = None,
) -> None:
    """Create a base connection: prompts for each field of the spec's credentials (secrets
    are not echoed), or takes the body from --from-file."""
    if from_file is None and spec is None:
        fail("give --spec NAME (to be asked for each field) or --from-file FILE")
    with api_errors(), open_client(url, credentials) as client:
        if from_file is not None:
            body = _read_body(from_file)
            if spec is not None:
                body.setdefault("connectionSpec", {"id": find_spec(client, spec)["id"]})
            if name is not None:
                body["name"] = name
        else:
            assert spec is not None
            found = find_spec(client, spec)
            chosen = _choose_auth_spec(found, auth)
            console.print(
                f"New {found.get('name')} connection ({chosen.get('name')})", highlight=False
            )
            body = {
                "name": name or typer.prompt("Name", default=f"{found.get('name')} connection"),
                "connectionSpec": {"id": found["id"], "version": found.get("version", "1.0")},
                "auth": {"specName": chosen["name"], "params": prompt_params(chosen)},
            }
        created = client.connections.create(body)
        result: JsonObject | None = client.connections.test(created.id) if test else None
    if output is OutputFormat.json:
        print_json({"id": created.id, "etag": created.etag, **({"test": result} if test else {})})
    else:
        console.print(f"Created connection {created.id}", highlight=False)
    if result is not None and result.get("result") is not True:
        reason = result.get("message") or result.get("error") or "no reason given"
        fail(f"connection {created.id} was created but does not work: {reason}")
    if result is not None and output is OutputFormat.table:
        console.print(f"Connection {created.id} works.", highlight=False)
