"""The PDF of a CFDI (its representación impresa), rendered by satcfdi's template.

≈750 ms each: only jobs call this, never the webhook path. A simulated stamp gets a banner
on every page saying the document is NOT fiscally valid.
"""

from __future__ import annotations

import weasyprint
from satcfdi.render import html_str

from backend.cfdi.document import parse

NOT_VALID_BANNER = (
    '<div style="border:3px solid #c00;color:#c00;font:bold 14pt sans-serif;'
    'text-align:center;padding:6px;margin-bottom:8px">'
    "DOCUMENTO DE PRUEBA: TIMBRE SIMULADO, SIN VALIDEZ FISCAL"
    "</div>"
)
_PAGE = weasyprint.CSS(string="@page { margin: 1cm 1.27cm 1.1cm 0.85cm; }")


def render_pdf(xml: str, *, simulated: bool) -> bytes:
    html = html_str(parse(xml))
    if simulated:
        html = html.replace("<body>", "<body>" + NOT_VALID_BANNER, 1)
    return bytes(weasyprint.HTML(string=html).write_pdf(stylesheets=[_PAGE]))
