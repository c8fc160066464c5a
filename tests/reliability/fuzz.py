"""Schemathesis over the app's own OpenAPI: every operation, with requests the schema allows and
requests it forbids, each sent without a key, with a wrong key and with a valid one. A finding
is an answer of 500 or more, a status the OpenAPI does not list for the operation, a body that
is not JSON, or a request the server dropped. The test suite runs it in process
(tests/reliability/test_fuzz.py) and `bench/soak.py` over HTTP against `kgrec serve`."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from hypothesis.strategies import SearchStrategy
from schemathesis import Case, GenerationMode
from schemathesis.core import NotSet
from schemathesis.core.result import Err
from schemathesis.openapi import from_dict

EXAMPLES = 20  # per operation, generation mode and key
FEW = {"POST /admin/reload": 2}  # a reload builds a whole service: a few examples say enough


@dataclass(frozen=True)
class Finding:
    operation: str
    status: int | None  # None: no answer (the connection dropped or timed out)
    what: str


@dataclass
class FuzzReport:
    cases: int = 0
    findings: list[Finding] = field(default_factory=list)

    @property
    def server_errors(self) -> int:
        return sum(f.status is None or f.status >= 500 for f in self.findings)


class Client(Protocol):
    """An HTTP client bound to the server: httpx's, or Starlette's TestClient (in process)."""

    def request(
        self, method: str, url: str, *, content: str | bytes | None = ..., params: Any = ...,
        headers: Any = ...,
    ) -> Any: ...  # fmt: skip


def fuzz(
    client: Client,
    openapi: dict[str, Any],
    keys: Sequence[str | None],
    examples: int = EXAMPLES,
) -> FuzzReport:
    """Send generated requests for every operation of `openapi` through `client`."""
    report = FuzzReport()
    for result in from_dict(openapi).get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        operation = result.ok()
        documented = set(openapi["paths"][operation.path][operation.method.lower()]["responses"])
        count = FEW.get(operation.label, examples)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for key in keys:
                strategy = operation.as_strategy(generation_mode=mode)
                _send_examples(client, strategy, key, documented, count, report)
    return report


def _send_examples(
    client: Client,
    strategy: SearchStrategy[Case[Any]],
    key: str | None,
    documented: set[str],
    count: int,
    report: FuzzReport,
) -> None:
    @settings(
        max_examples=count, deadline=None, database=None, derandomize=True,
        phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
    )  # fmt: skip
    @given(case=strategy)
    def send(case: Case[Any]) -> None:
        report.cases += 1
        finding = _check(client, case, key, documented)
        if finding is not None:
            report.findings.append(finding)

    with contextlib.suppress(Unsatisfiable):  # nothing here can be made invalid (no input)
        send()


def _check(
    client: Client, case: Case[Any], key: str | None, documented: set[str]
) -> Finding | None:
    headers = {k: str(v) for k, v in (case.headers or {}).items() if k.lower() != "x-api-key"}
    if key is not None:
        headers["X-API-Key"] = key
    content: str | bytes | None = None
    if isinstance(case.body, bytes):  # a body that is not even JSON
        content = case.body
        headers["Content-Type"] = case.media_type or "application/octet-stream"
    elif not isinstance(case.body, NotSet):
        content = json.dumps(case.body)
        headers["Content-Type"] = "application/json"
    label = f"{case.method} {case.formatted_path[:200]}"
    try:
        response = client.request(case.method, case.formatted_path, content=content,
                                  params=case.query or None, headers=headers)  # fmt: skip
    except httpx.TransportError as exc:
        return Finding(label, None, f"no answer: {exc!r}")
    except Exception as exc:  # in process, the app's own exception: what a server answers 500
        return Finding(label, 500, f"raised {exc!r}")
    if response.status_code >= 500:
        return Finding(label, response.status_code, response.text[:500])
    if str(response.status_code) not in documented:
        return Finding(label, response.status_code, f"undocumented status: {response.text[:300]}")
    try:
        response.json()
    except ValueError:
        return Finding(label, response.status_code, f"not JSON: {response.text[:300]}")
    return None
