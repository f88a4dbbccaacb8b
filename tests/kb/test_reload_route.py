"""The admin action that reloads the knowledge base over HTTP, and who may use it."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from chatkit import AgentRole
from tests.conftest import StartServer

GOOD = "- {id: hours, question: 'When are you open?', answer: 9 to 5}\n"


async def login(http: aiohttp.ClientSession, base: str, email: str, password: str) -> str:
    async with http.post(f"{base}/chat/api/agents/login",
                         json={"email": email, "password": password}) as response:
        assert response.status == 200
        token: str = (await response.json())["token"]
        return token


async def test_only_an_admin_reloads_and_a_broken_kb_is_refused(
        start_server: StartServer, tmp_path: Path) -> None:
    path = tmp_path / "kb.yaml"
    path.write_text(GOOD)
    server = await start_server(kb_path=path)
    kit = server.kit  # type: ignore[attr-defined]
    await kit.agents.create(email="admin@example.com", name="Ad", password="admin pass 1",
                            role=AgentRole.ADMIN)
    await kit.agents.create(email="agent@example.com", name="Ag", password="agent pass 1",
                            role=AgentRole.AGENT)
    base = f"http://{server.host}:{server.port}"
    url = f"{base}/chat/api/kb/reload"
    async with aiohttp.ClientSession() as http:
        async with http.post(url) as response:
            assert response.status == 401
            assert (await response.json())["error"]["code"] == "unauthorized"
        async with http.post(url, headers={"Authorization": "Bearer forged"}) as response:
            assert response.status == 401
        agent = await login(http, base, "agent@example.com", "agent pass 1")
        async with http.post(url, headers={"Authorization": f"Bearer {agent}"}) as response:
            assert response.status == 403
            assert (await response.json())["error"]["code"] == "forbidden"

        token = await login(http, base, "admin@example.com", "admin pass 1")
        admin = {"Authorization": f"Bearer {token}"}
        path.write_text(GOOD + "- {id: refund, question: 'Refunds?', answer: 30 days}\n")
        async with http.post(url, headers=admin) as response:
            assert response.status == 200
            body = await response.json()
            assert body["entries"] == 2 and body["locales"] == ["en"]
            assert body["version"] == 2
        assert kit.kb.kb.get("refund") is not None

        path.write_text("- {id: refund, question: 'Refunds?'}\n")
        async with http.post(url, headers=admin) as response:
            assert response.status == 422
            error = (await response.json())["error"]
            assert error["code"] == "kb_invalid"
            assert error["problems"] == [f"{path}:1: answer: Field required"]
        assert kit.kb.kb.get("refund") is not None and kit.kb.version == 2
