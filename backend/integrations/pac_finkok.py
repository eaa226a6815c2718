"""Finkok (SOAP) through satcfdi's client.

satcfdi fixes Finkok's host and posts without a timeout; this subclass points it at
PAC_BASE_URL when set (a local fake PAC in tests) and bounds every call.
"""

from __future__ import annotations

import asyncio
from typing import Any

import requests
from lxml import etree
from satcfdi.cfdi import CFDI
from satcfdi.exceptions import DocumentNotFoundError, ResponseError
from satcfdi.models import Signer
from satcfdi.pacs import CancelReason, Environment
from satcfdi.pacs.finkok import Finkok

from backend.cfdi.stamper import Cancellation, PacRejected, PacUnavailable, Stamp

# Finkok's "already stamped" answer carries the first stamp: a retry is not a second CFDI.
ALREADY_STAMPED = "307"


class _Finkok(Finkok):
    def __init__(
        self, username: str, password: str, environment: Environment, base_url: str, timeout: float
    ) -> None:
        super().__init__(username, password, environment)
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout

    @property
    def host(self) -> str:
        return self._base_url or str(super().host)

    def _perform_request(self, url: str, envelope: Any) -> Any:
        try:
            response = requests.post(
                url=url,
                data=etree.tostring(envelope),
                headers={"Content-Type": "text/xml; charset=utf-8"},
                timeout=self._timeout,
            )
        except requests.RequestException as exc:
            raise PacUnavailable(f"finkok unreachable: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise PacUnavailable(f"finkok answered {response.status_code}")
        try:
            return etree.fromstring(response.content)
        except etree.XMLSyntaxError as exc:
            raise PacUnavailable(f"finkok answered non-XML ({response.status_code})") from exc


def _code_and_message(text: str) -> tuple[str, str]:
    code, _, message = text.partition(" - ")
    return (code.strip(), message.strip()) if message else ("", text)


class FinkokStamper:
    provider = "finkok"
    simulated = False

    def __init__(
        self,
        username: str,
        password: str,
        *,
        production: bool,
        base_url: str = "",
        timeout: float = 20.0,
    ) -> None:
        env = Environment.PRODUCTION if production else Environment.TEST
        self._client = _Finkok(username, password, env, base_url, timeout)

    async def stamp(self, signed_xml: bytes) -> Stamp:
        return await asyncio.to_thread(self._stamp, signed_xml)

    def _stamp(self, signed_xml: bytes) -> Stamp:
        cfdi = CFDI.from_string(signed_xml)
        try:
            document = self._client.stamp(cfdi)
        except ResponseError as exc:
            code, message = _code_and_message(str(exc.args[0]))
            if code != ALREADY_STAMPED:
                raise PacRejected(code, message) from exc
            # Our previous attempt was stamped but its answer was lost: fetch that stamp.
            try:
                document = self._client.stamped(cfdi)
            except ResponseError as again:
                raise PacRejected(*_code_and_message(str(again.args[0]))) from again
        xml = document.xml
        return Stamp(uuid=str(document.document_id).upper(), xml=bytes(xml))

    async def cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation:
        return await asyncio.to_thread(self._cancel, stamped_xml, motive, substitute_uuid, signer)

    def _cancel(
        self, stamped_xml: bytes, motive: str, substitute_uuid: str | None, signer: Signer
    ) -> Cancellation:
        try:
            ack = self._client.cancel(
                CFDI.from_string(stamped_xml), CancelReason(motive), substitute_uuid, signer
            )
        except DocumentNotFoundError as exc:
            raise PacRejected("205", str(exc)) from exc
        except ResponseError as exc:
            raise PacRejected(*_code_and_message(str(exc.args[0]))) from exc
        code = str(ack.code or "")
        acuse = ack.acuse.decode() if isinstance(ack.acuse, bytes) else ack.acuse
        # SAT's EstatusUUID: 201 request accepted, 202 already cancelled.
        if code not in ("201", "202"):
            raise PacRejected(code, "cancellation refused")
        return Cancellation(status="canceled", code=code, acknowledgment=acuse)
