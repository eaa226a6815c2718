"""A local stand-in for PAC web services, speaking their wire formats: Finkok's SOAP
(stamp, stamped, cancel_signature), SW sapien's REST (v4 stamp, cancel) and Diverza's
REST (v2 stamp). The real adapters talk to it through PAC_BASE_URL in tests.

Stamps are made by the simulated PAC (not fiscally valid). `fail_next` makes the next
calls fail the ways PACs do: down (HTTP 503), slow (answers after the client's timeout)
or reject (a validation error in the provider's format).
"""

from __future__ import annotations

import asyncio
import base64
import html
import re
from dataclasses import dataclass, field
from typing import Literal

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from lxml import etree
from satcfdi.cfdi import CFDI
from starlette.datastructures import UploadFile

from backend.cfdi.stamper import PacRejected, Stamp
from backend.integrations.pac_sim import add_timbre

Failure = Literal["down", "slow", "reject"]
APPS = "apps.services.soap.core.views"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"


@dataclass
class FakePac:
    slow_seconds: float = 3.0
    stamps: dict[str, Stamp] = field(default_factory=dict)  # by the CFDI's Sello
    calls: list[str] = field(default_factory=list)
    canceled: dict[str, str] = field(default_factory=dict)  # uuid -> motive
    _failures: list[Failure] = field(default_factory=list)

    def fail_next(self, failure: Failure, times: int = 1) -> None:
        self._failures += [failure] * times

    async def _failure(self) -> Failure | None:
        if not self._failures:
            return None
        failure = self._failures.pop(0)
        if failure == "slow":
            await asyncio.sleep(self.slow_seconds)
        return failure

    def _stamp(self, xml: bytes) -> tuple[Stamp, bool]:
        seal = str(CFDI.from_string(xml).get("Sello") or "")
        if seal in self.stamps:
            return self.stamps[seal], True
        stamp = add_timbre(xml)
        self.stamps[seal] = stamp
        return stamp, False

    def app(self) -> FastAPI:
        app = FastAPI()
        router = APIRouter()
        router.add_api_route("/servicios/soap/stamp.wsdl", self._finkok_stamp, methods=["POST"])
        router.add_api_route("/servicios/soap/cancel.wsdl", self._finkok_cancel, methods=["POST"])
        router.add_api_route("/v4/cfdi33/stamp/v4", self._sw_stamp, methods=["POST"])
        router.add_api_route(
            "/cfdi33/cancel/{rfc}/{uuid}/{motive}", self._sw_cancel, methods=["POST"]
        )
        router.add_api_route(
            "/cfdi33/cancel/{rfc}/{uuid}/{motive}/{substitute}", self._sw_cancel, methods=["POST"]
        )
        router.add_api_route("/api/v2/documents/stamp", self._diverza_stamp, methods=["POST"])
        app.include_router(router)
        return app

    # --- Finkok (SOAP) --------------------------------------------------------------------

    async def _finkok_stamp(self, request: Request) -> Response:
        self.calls.append("finkok.stamp")
        failure = await self._failure()
        if failure == "down":
            return Response("Service Unavailable", status_code=503)
        root = etree.fromstring(await request.body())
        operation = etree.QName(root.find(f"{{{SOAP}}}Body")[0]).localname
        xml_b64 = root.find(".//{*}xml").text or ""
        signed = base64.b64decode(xml_b64)
        if failure == "reject":
            return _finkok_stamp_answer(operation, None, "CFDI40145", "Nombre del receptor")
        try:
            stamp, again = self._stamp(signed)
        except PacRejected as exc:
            return _finkok_stamp_answer(operation, None, exc.code, exc.message)
        if again and operation == "stamp":
            return _finkok_stamp_answer(operation, None, "307", "El CFDI contiene un timbre previo")
        return _finkok_stamp_answer(operation, stamp, None, None)

    async def _finkok_cancel(self, request: Request) -> Response:
        self.calls.append("finkok.cancel")
        failure = await self._failure()
        if failure == "down":
            return Response("Service Unavailable", status_code=503)
        text = (await request.body()).decode()
        xml = base64.b64decode(re.search(r"<[^>]*xml>([^<]+)<", text)[1])  # type: ignore[index]
        folio = etree.fromstring(xml).find(".//{*}Folio")
        uuid, motive = folio.get("UUID").upper(), folio.get("Motivo")
        if failure == "reject" or (motive == "01" and not folio.get("FolioSustitucion")):
            body = f"<s0:CodEstatus>{html.escape('Motivo inválido')}</s0:CodEstatus>"
        else:
            self.canceled[uuid] = motive
            body = (
                f"<s0:Folios><s0:Folio><s0:EstatusUUID>201</s0:EstatusUUID>"
                f"<s0:UUID>{uuid}</s0:UUID></s0:Folio></s0:Folios>"
                f"<s0:Acuse>{html.escape('<Acuse/>')}</s0:Acuse>"
            )
        return _soap("cancel_signatureResponse", "cancel_signatureResult", body, "cancel")

    # --- SW sapien (REST) -----------------------------------------------------------------

    async def _sw_stamp(self, request: Request) -> Response:
        self.calls.append("swsapien.stamp")
        failure = await self._failure()
        if failure == "down":
            return Response("Bad Gateway", status_code=502)
        if failure == "reject":
            return _sw_error(400, "CFDI40145 - El campo Nombre del receptor no es válido")
        form = await request.form()
        upload = form.get("xml")
        signed = await upload.read() if isinstance(upload, UploadFile) else str(upload).encode()
        try:
            stamp, _ = self._stamp(signed)
        except PacRejected as exc:
            return _sw_error(400, f"{exc.code} - {exc.message}")
        data = {"uuid": stamp.uuid, "cfdi": stamp.xml.decode()}
        return JSONResponse({"status": "success", "data": data})

    async def _sw_cancel(
        self, rfc: str, uuid: str, motive: str, substitute: str | None = None
    ) -> Response:
        self.calls.append("swsapien.cancel")
        failure = await self._failure()
        if failure == "down":
            return Response("Bad Gateway", status_code=502)
        if failure == "reject" or (motive == "01" and not substitute):
            return _sw_error(400, "CA2000 - Motivo inválido")
        self.canceled[uuid.upper()] = motive
        data = {"uuid": {uuid: "201"}, "acuse": "<Acuse/>"}
        return JSONResponse({"status": "success", "data": data})

    # --- Diverza (REST) -------------------------------------------------------------------

    async def _diverza_stamp(self, request: Request) -> Response:
        self.calls.append("diverza.stamp")
        failure = await self._failure()
        if failure == "down":
            return Response("Service Unavailable", status_code=503)
        if failure == "reject":
            return JSONResponse({"error_code": "CFDI40145", "message": "Nombre"}, 422)
        body = await request.json()
        signed = base64.b64decode(body["document"]["content"])
        stamp, _ = self._stamp(signed)
        content = base64.b64encode(stamp.xml).decode()
        return JSONResponse({"uuid": stamp.uuid, "content": content}, 201)


def _soap(response_tag: str, result_tag: str, inner: str, ns: str) -> Response:
    body = (
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP}" '
        f'xmlns:ns0="http://facturacion.finkok.com/{ns}" xmlns:s0="{APPS}">'
        f"<SOAP-ENV:Body><ns0:{response_tag}><ns0:{result_tag}>{inner}"
        f"</ns0:{result_tag}></ns0:{response_tag}></SOAP-ENV:Body></SOAP-ENV:Envelope>"
    )
    return Response(body, media_type="text/xml")


def _finkok_stamp_answer(
    operation: str, stamp: Stamp | None, code: str | None, message: str | None
) -> Response:
    if stamp is not None:
        inner = (
            f"<s0:xml>{html.escape(stamp.xml.decode())}</s0:xml><s0:UUID>{stamp.uuid}</s0:UUID>"
            "<s0:CodEstatus>Comprobante timbrado satisfactoriamente</s0:CodEstatus>"
            "<s0:Incidencias/>"
        )
    else:
        inner = (
            "<s0:Incidencias><s0:Incidencia>"
            f"<s0:CodigoError>{code}</s0:CodigoError>"
            f"<s0:MensajeIncidencia>{html.escape(message or '')}</s0:MensajeIncidencia>"
            "</s0:Incidencia></s0:Incidencias>"
        )
    return _soap(f"{operation}Response", f"{operation}Result", inner, "stamp")


def _sw_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"status": "error", "message": message, "messageDetail": ""}, status)
