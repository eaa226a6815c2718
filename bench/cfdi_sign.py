"""CFDI build + sign throughput on one core (no XSD validation, no PDF: those run in jobs).

    .venv/bin/python bench/cfdi_sign.py [--n 2000]

Builds a realistic Ingreso (2 concepts, IVA traslado, discount) from centavos with
backend.cfdi.document and seals it with SAT's public test CSD. Target: >= 200/s.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import datetime
from pathlib import Path

from backend.cfdi import document as doc

CSD = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "sat_csd"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    signer = doc.load_signer(
        (CSD / "eku9003173c9_csd.cer").read_bytes(),
        (CSD / "eku9003173c9_csd.key").read_bytes(),
        (CSD / "eku9003173c9_csd.txt").read_text().strip(),
    )
    issuer = doc.Party("EKU9003173C9", "ESCUELA KEMPER URGATE", "601", "06000")
    receiver = doc.Party("XIQB891116QE4", "ANA LOPEZ", "612", "06600", "G03")

    def one(i: int) -> bytes:
        draft = doc.Draft(
            kind="I",
            series="F",
            folio=i,
            issued_at=datetime(2025, 1, 15, 10, 0, 0),
            forma_pago="04",
            issuer=issuer,
            receiver=receiver,
            lines=[
                doc.Line("Membresía Premium mensual", 79900 + i % 100, discount_cents=1000),
                doc.Line("Servicio de toalla", 4999),
            ],
        )
        return doc.xml_of(doc.build_and_sign(draft, signer))

    for i in range(50):  # warm up
        one(i)
    started = time.perf_counter()
    for i in range(args.n):
        one(i)
    elapsed = time.perf_counter() - started
    print(
        f"build+sign+serialize: {args.n} CFDIs in {elapsed:.2f} s = {args.n / elapsed:.0f}/s "
        f"({elapsed / args.n * 1000:.2f} ms each, one core)"
    )


if __name__ == "__main__":
    main()
