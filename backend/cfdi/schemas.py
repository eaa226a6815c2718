from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class CfdiOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int | None
    kind: str
    scope: str
    payment_id: int | None
    series: str
    folio: int | None
    status: str
    uuid: str | None
    receptor_rfc: str
    receptor_name: str
    uso_cfdi: str
    forma_pago: str
    subtotal_cents: int
    discount_cents: int
    tax_cents: int
    total_cents: int
    issued_at: datetime
    stamped_at: datetime | None
    sent_at: datetime | None
    global_periodicity: str | None
    global_months: str | None
    global_year: int | None
    cancel_motive: str | None
    canceled_at: datetime | None
    last_error: str | None
    attempts: int
    pac_provider: str
    simulated: bool
    # False for a simulated stamp: the document is a test, NOT a valid CFDI.
    fiscally_valid: bool = True
    retain_until: datetime | None


class CancelIn(BaseModel):
    motive: str = Field(pattern=r"^0[1-4]$", description="SAT motive: 01, 02, 03 or 04.")
    substitute_uuid: str | None = Field(
        default=None, description="Motive 01: the UUID of the CFDI that substitutes it."
    )


class FiscalProfileIn(BaseModel):
    rfc: str = Field(min_length=12, max_length=13)
    legal_name: str = Field(min_length=3, max_length=300)
    regimen: str = Field(pattern=r"^\d{3}$")
    postal_code: str = Field(pattern=r"^\d{5}$")
    series: str = Field(default="F", max_length=10)
    global_periodicity: str = Field(default="04", pattern=r"^(01|04)$")
    pac_provider: str = "simulated"
    pac_environment: str = Field(default="test", pattern=r"^(test|production)$")
    pac_credentials: dict[str, str] | None = None
    # The CSD, base64: the .cer, the .key and the key's password.
    csd_certificate_b64: str | None = None
    csd_key_b64: str | None = None
    csd_password: str | None = None


class FiscalProfileOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rfc: str
    legal_name: str
    regimen: str
    postal_code: str
    series: str
    next_folio: int
    global_periodicity: str
    csd_number: str | None
    csd_valid_until: datetime | None
    pac_provider: str
    pac_environment: str
    fiscally_valid: bool = False
