"""The blacklist endpoints (switchboard/api/blacklist_api.py): the internal list, edited with a reason."""

from __future__ import annotations

import httpx

from dialer.audit import AuditTrail
from dialer.stores import DialerStores
from tests.support.dialer_api_harness import auth, clock, http, stores

__all__ = ["clock", "http", "stores"]  # the fixtures, from the harness


async def test_supervisors_edit_the_internal_list_with_a_reason(
    http: httpx.AsyncClient, stores: DialerStores
) -> None:
    add = {"number": "06 30 765 4321", "reason": "customer complained by e-mail"}
    assert (
        await http.post("/api/v1/blacklist/internal", json=add, headers=auth("advisor"))
    ).status_code == 403
    no_reason = await http.post(
        "/api/v1/blacklist/internal", json={"number": "06307654321"}, headers=auth("supervisor")
    )
    assert no_reason.status_code == 422 and "reason" in no_reason.json()["message"]
    added = await http.post("/api/v1/blacklist/internal", json=add, headers=auth("supervisor"))
    assert added.status_code == 201
    assert added.json() | {"at": None} == {
        "number": "+36307654321",
        "on_list": True,
        "changed": True,
        "reason": "customer complained by e-mail",
        "actor": "sue",
        "at": None,
    }
    shown = await http.get("/api/v1/blacklist/internal/06307654321", headers=auth("supervisor"))
    assert shown.json()["actor"] == "sue"
    refused = await http.delete("/api/v1/blacklist/internal/+36307654321", headers=auth("supervisor"))
    assert refused.status_code == 422 and refused.json()["details"]["missing"] == ["reason"]
    removed = await http.delete(
        "/api/v1/blacklist/internal/+36307654321",
        params={"reason": "added by mistake"},
        headers=auth("supervisor"),
    )
    assert removed.status_code == 200 and removed.json()["changed"] is True
    again = await http.request(
        "DELETE",
        "/api/v1/blacklist/internal/06307654321",
        json={"reason": "twice"},
        headers=auth("supervisor"),
    )
    assert again.json()["changed"] is False
    trail = await AuditTrail(stores.redis, stores.keys.audit_blacklist).read()
    assert [(e.action, e.fields["actor"], e.fields["reason"]) for e in trail] == [
        ("add", "sue", "customer complained by e-mail"),
        ("remove", "sue", "added by mistake"),
    ]
    gone = await http.get("/api/v1/blacklist/internal/06307654321", headers=auth("supervisor"))
    assert gone.status_code == 404
