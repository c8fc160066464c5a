"""Request dependencies: the service built in the lifespan, who is calling (their API key and
what it may do) and the checks of read, write and admin rights. They are `async` because they
never block: FastAPI runs sync dependencies in its threadpool, a thread hand-off each, per
request."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Request, status
from pydantic import SecretStr

from api.engine import Recommender, UnknownError
from api.service import Service
from kg.settings import Settings

Scope = Literal["read", "write", "admin"]
# What each scope guards, for the errors that refuse it.
GUARDED: dict[Scope, str] = {
    "read": "reads (recommendations, search, similar items, explanations)",
    "write": "writes (POST /items, POST /events)",
    "admin": "admin endpoints (/admin)",
}


async def get_service(request: Request) -> AsyncIterator[Service]:
    # Counted in until the request is done: a reload closes the service it replaced only once
    # its requests are (those that come meanwhile go to the new one).
    service = request.app.state.service.enter()
    if service is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the server is shutting down")
    try:
        yield service
    finally:
        service.leave()


ServiceDep = Annotated[Service, Depends(get_service)]


async def get_recommender(service: ServiceDep) -> Recommender:
    return service.recommender


RecommenderDep = Annotated[Recommender, Depends(get_recommender)]


@dataclass(frozen=True)
class Caller:
    key: str | None  # which key, as "KGREC_API_READ_KEYS[0]" (never the key); None: no key sent
    scopes: frozenset[Scope]

    @property
    def admin(self) -> bool:
        """Sees everything, other customers' ids in explanations included."""
        return "admin" in self.scopes


ANONYMOUS = Caller(key=None, scopes=frozenset())


def key_lists(settings: Settings) -> list[tuple[str, list[SecretStr], frozenset[Scope]]]:
    """Each setting that holds keys, its keys and what they may do; a write key reads too."""
    return [
        ("KGREC_API_KEYS", settings.api_keys, frozenset({"read", "write", "admin"})),
        ("KGREC_API_WRITE_KEYS", settings.api_write_keys, frozenset({"read", "write"})),
        ("KGREC_API_READ_KEYS", settings.api_read_keys, frozenset({"read"})),
    ]


def identify(settings: Settings, sent: str | None) -> Caller | None:
    """The caller an X-API-Key header makes (ANONYMOUS without one); None when the key is not
    one of this server's. A key listed twice has the rights of its first list."""
    if sent is None:
        return ANONYMOUS
    sent_bytes = sent.encode()
    found = None
    # Every key is compared, in constant time, so timing reveals nothing about any of them.
    for env, keys, scopes in key_lists(settings):
        for index, key in enumerate(keys):
            if secrets.compare_digest(sent_bytes, key.get_secret_value().encode()):
                found = found or Caller(key=f"{env}[{index}]", scopes=scopes)
    return found


async def get_caller(
    service: ServiceDep, x_api_key: Annotated[str | None, Header()] = None
) -> Caller:
    caller = identify(service.settings, x_api_key)
    if caller is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "the X-API-Key is not one of this server's keys (KGREC_API_KEYS, "
            "KGREC_API_WRITE_KEYS, KGREC_API_READ_KEYS); check it, or ask the operator for one",
        )
    return caller


CallerDep = Annotated[Caller, Depends(get_caller)]


def check_scope(settings: Settings, caller: Caller, scope: Scope) -> None:
    """401 without a key (or when no key of this server may do it), 403 with a key that may
    not."""
    if scope in caller.scopes:
        return
    granting = [(env, keys) for env, keys, scopes in key_lists(settings) if scope in scopes]
    if not any(keys for _, keys in granting):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"this server has no API key that may {scope}, so {GUARDED[scope]} are refused; "
            f"set {granting[0][0]}='[\"<a long random key>\"]' and restart",
        )
    envs = " or ".join(env for env, _ in granting)
    if caller.key is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            f"{GUARDED[scope]} need an API key: send one from {envs} in X-API-Key",
        )
    raise HTTPException(
        status.HTTP_403_FORBIDDEN,
        f"this X-API-Key ({caller.key}) may not {scope}: {GUARDED[scope]} need a key from {envs}",
    )


async def require_read(service: ServiceDep, caller: CallerDep) -> None:
    """Reads are open unless KGREC_API_READ_REQUIRES_KEY is set."""
    if service.settings.api_read_requires_key:
        check_scope(service.settings, caller, "read")


async def require_write(service: ServiceDep, caller: CallerDep) -> None:
    check_scope(service.settings, caller, "write")


async def require_admin(service: ServiceDep, caller: CallerDep) -> None:
    check_scope(service.settings, caller, "admin")


ReadAccess = Depends(require_read)
ApiKey = Depends(require_write)  # the write endpoints'
AdminKey = Depends(require_admin)


def require_known_user(service: Service, user_id: str) -> None:
    """A 404 for a user the graph does not know, but only to callers trusted with reads (with
    KGREC_API_READ_REQUIRES_KEY): open reads must not tell anyone which user ids exist, so
    there an unknown user is answered as a known one with no history."""
    if service.settings.api_read_requires_key and not service.recommender.knows_user(user_id):
        raise UnknownError(f"unknown user {user_id!r}")
