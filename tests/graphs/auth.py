"""LangGraph custom auth for the tests: two users by bearer token; every
resource is stamped with its owner and filtered by it; the Store keeps each
user to the namespaces that start with their identity."""

from __future__ import annotations

from typing import Any

from langgraph_sdk import Auth

auth = Auth()
USERS = {"token-alice": "alice", "token-bob": "bob"}


@auth.authenticate
async def authenticate(authorization: str | None, path: str, method: str) -> dict[str, Any]:
    token = (authorization or "").removeprefix("Bearer ")
    if token not in USERS:
        raise Auth.exceptions.HTTPException(status_code=401, detail="Invalid or missing token")
    who = USERS[token]
    return {"identity": who, "display_name": who.title(), "permissions": ["read", "write"]}


@auth.on
async def owner_only(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, str]:
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        metadata["owner"] = ctx.user.identity
    return {"owner": ctx.user.identity}


@auth.on.store()
async def own_namespace(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    namespace = value.get("namespace") or ()
    if not namespace or namespace[0] != ctx.user.identity:
        raise Auth.exceptions.HTTPException(
            status_code=403, detail="Not authorized for this namespace"
        )
