"""Diverza (REST) through satcfdi's client, with PAC_BASE_URL and a timeout per call."""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from satcfdi.cfdi import CFDI
from satcfdi.models import Signer
from satcfdi.pacs import Accept, CancelReason, Environment
from satcfdi.pacs.diverza import Diverza

from backend.cfdi.stamper import Cancellation, PacRejected, PacUnavailable, Stamp

_HOSTS = {
    Environment.PRODUCTION: "https://servicios.diverza.com",
    Environment.TEST: "https://serviciosdemo.diverza.com",
}


class _Diverza(Diverza):
    def __init__(
        self,
        rfc: str,
        client_id: str,
        token: str,
        environment: Environment,
        base_url: str,
        timeout: float,
    ) -> None:
        super().__init__(rfc=rfc, id=client_id, token=token, environment=environment)
        self._base_url = base_url.rstrip("/") or _HOSTS[environment]
        self._timeout = timeout

    def _request(self, path: str, json: Any, method: str = "post") -> Any:
        try:
            r = requests.request(
                method=method,
                url=f"{self._base_url}/{path}",
                json=self.payload_append | json,
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise PacUnavailable(f"diverza unreachable: {exc}") from exc
        if r.status_code >= 500 or r.status_code == 429:
            raise PacUnavailable(f"diverza answered {r.status_code}")
        if not r.ok:
            try:
                body = r.json()
            except ValueError:
                body = {}
            raise PacRejected(
                str(body.get("error_code") or r.status_code), str(body.get("message") or r.reason)
            )
        return r


class DiverzaStamper:
    provider = "diverza"
    simulated = False

    def __init__(
        self,
        *,
        rfc: str,
        client_id: str,
        token: str,
        production: bool,
        base_url: str = "",
        timeout: float = 20.0,
    ) -> None:
        env = Environment.PRODUCTION if production else Environment.TEST
        self._client = _Diverza(rfc, client_id, token, env, base_url, timeout)

    async def stamp(self, signed_xml: bytes) -> Stamp:
        return await asyncio.to_thread(self._stamp, signed_xml)

    def _stamp(self, signed_xml: bytes) -> Stamp:
        document = self._client.stamp(CFDI.from_string(signed_xml), accept=Accept.XML)
        return Stamp(uuid=str(document.document_id).upper(), xml=bytes(document.xml))

    async def cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation:
        return await asyncio.to_thread(self._cancel, stamped_xml, motive, substitute_uuid)

    def _cancel(self, stamped_xml: bytes, motive: str, substitute_uuid: str | None) -> Cancellation:
        ack = self._client.cancel(
            CFDI.from_string(stamped_xml), CancelReason(motive), substitute_uuid
        )
        return Cancellation(status="canceled", code=str(ack.code))
