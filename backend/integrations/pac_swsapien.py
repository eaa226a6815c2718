"""SW sapien (REST) through satcfdi's client, with PAC_BASE_URL and a timeout per call."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from satcfdi.cfdi import CFDI
from satcfdi.models import Signer
from satcfdi.pacs import CancelReason, Environment
from satcfdi.pacs.swsapien import SWSapien

from backend.cfdi.stamper import Cancellation, PacRejected, PacUnavailable, Stamp


class _SWSapien(SWSapien):
    def __init__(
        self,
        token: str | None,
        user: str | None,
        password: str | None,
        environment: Environment,
        base_url: str,
        timeout: float,
    ) -> None:
        super().__init__(token=token, user=user, password=password, environment=environment)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _host(self, service: str = "services") -> str:
        return self._base_url or str(super()._host(service))

    def _request(
        self,
        path: str,
        headers: dict[str, str] | None = None,
        method: str = "post",
        files: Any = None,
        json: Any = None,
        needs_token: bool = True,
        service: str = "services",
    ) -> Any:
        url = f"{self._host(service)}/{path.lstrip('/')}"
        auth = {"Authorization": self.token_fn()} if needs_token else {}
        try:
            r = requests.request(
                method=method,
                url=url,
                headers={"Cache-Control": "no-cache", **auth, **(headers or {})},
                json=json,
                files=files,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise PacUnavailable(f"sw sapien unreachable: {exc}") from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise PacUnavailable(f"sw sapien answered {r.status_code}")
        try:
            body = r.json()
        except ValueError as exc:
            raise PacUnavailable(f"sw sapien answered non-JSON ({r.status_code})") from exc
        if not r.ok or body.get("status") != "success":
            message = str(body.get("message") or r.reason)
            code, _, text = message.partition(" - ")
            raise PacRejected(code.strip() if text else str(r.status_code), text or message)
        return body


class SWSapienStamper:
    provider = "swsapien"
    simulated = False

    def __init__(
        self,
        *,
        token: str = "",
        user: str = "",
        password: str = "",
        production: bool,
        base_url: str = "",
        timeout: float = 20.0,
    ) -> None:
        env = Environment.PRODUCTION if production else Environment.TEST
        self._client = _SWSapien(
            token or None, user or None, password or None, env, base_url, timeout
        )

    async def stamp(self, signed_xml: bytes) -> Stamp:
        return await asyncio.to_thread(self._stamp, signed_xml)

    def _stamp(self, signed_xml: bytes) -> Stamp:
        document = self._client.stamp(CFDI.from_string(signed_xml))
        return Stamp(uuid=str(document.document_id).upper(), xml=bytes(document.xml))

    async def cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation:
        # SW cancels with the CSD the gym uploaded to its account (path-based API).
        return await asyncio.to_thread(self._cancel, stamped_xml, motive, substitute_uuid)

    def _cancel(self, stamped_xml: bytes, motive: str, substitute_uuid: str | None) -> Cancellation:
        ack = self._client.cancel(
            CFDI.from_string(stamped_xml), CancelReason(motive), substitute_uuid
        )
        code = str(ack.code)
        if code not in ("201", "202"):
            raise PacRejected(code, "cancellation refused")
        return Cancellation(status="canceled", code=code, acknowledgment=str(ack.acuse or ""))
