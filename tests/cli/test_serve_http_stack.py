"""`sluice serve` runs uvicorn on httptools and uvloop when they are installed (they are
dependencies), on h11 and asyncio where they are not."""

from __future__ import annotations

import builtins
from typing import Any

import pytest

from sluice.cli import serve


def test_the_server_uses_httptools_and_uvloop() -> None:
    config = serve.server_config("sluice.cli.serve:api_process_app", host="127.0.0.1", port=1)
    assert (config.http, config.loop) == ("httptools", "uvloop")
    assert (config.host, config.port) == ("127.0.0.1", 1)
    config.load()  # the names resolve to uvicorn's protocol and loop
    assert config.http_protocol_class.__name__ == "HttpToolsProtocol"


def test_without_them_the_server_falls_back_to_h11_and_asyncio(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def hide_c_stack(name: str, *args: Any, **kwargs: Any) -> Any:
        if name in ("httptools", "uvloop"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(serve.importlib, "import_module", hide_c_stack)
    config = serve.server_config("sluice.cli.serve:api_process_app", port=1)
    assert (config.http, config.loop) == ("h11", "asyncio")
