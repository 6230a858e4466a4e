"""/docs and /redoc work offline: every asset they load is served by the engine itself."""

from __future__ import annotations

import re

import httpx

from switchboard.api import AppState, TokenStore, create_app
from switchboard.metrics import create_metrics
from switchboard.settings import Settings


async def test_docs_and_redoc_load_only_assets_the_engine_serves() -> None:
    state = AppState(
        settings=Settings(), tokens=TokenStore.from_tokens([]), metrics=create_metrics(process=False)
    )
    transport = httpx.ASGITransport(app=create_app(state))
    async with httpx.AsyncClient(transport=transport, base_url="http://switchboard") as http:
        for page in ("/docs", "/redoc"):
            response = await http.get(page)
            assert response.status_code == 200, page
            assert "//" not in re.sub(r"<!--.*?-->", "", response.text).replace("://switchboard", ""), (
                f"{page} names an outside host"
            )
            assets = re.findall(r"""(?:src|href)=["']?(/docs/assets/[^"' >]+)""", response.text)
            assert assets, page
            for asset in assets:
                served = await http.get(asset)
                assert served.status_code == 200 and len(served.content) > 1000, asset
        assert "/docs" not in (await http.get("/openapi.json")).json()["paths"]
