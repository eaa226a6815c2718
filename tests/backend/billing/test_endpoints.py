"""`/api/v1` billing routes end to end: plans, subscriptions and their transitions,
payment methods, invoices, credits, reports, bad input, and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backend.billing.models import Invoice, Plan, Subscription
from backend.members.models import AuditEntry
from backend.payments.models import Payment
from backend.settings import Settings
from tests.factories import (
    auth_headers,
    make_gym,
    make_location,
    make_member,
    make_second_gym,
    make_staff,
)

API = "/api/v1"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json() if response.content else None


def error(response: httpx.Response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.text
    body = response.json()["error"]
    assert body["message_es"] and body["message_en"]
    if code:
        assert body["code"] == code
    return body


async def count(session: AsyncSession, model: type) -> int:
    return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def desk(session: AsyncSession, settings: Settings) -> dict[str, Any]:
    gym = await make_gym(session)
    centro = await make_location(session, gym, "centro")
    owner = await make_staff(session, gym, "owner")
    staff = await make_staff(session, gym, "staff")
    ana = await make_member(session, gym)
    await session.commit()
    return {
        "gym": gym,
        "centro": centro,
        "ana": ana,
        "owner": auth_headers(settings.secret_key, owner),
        "staff": auth_headers(settings.secret_key, staff),
    }


async def _plan(client: httpx.AsyncClient, headers: dict, code: str, price: int, **kw: Any) -> dict:
    body = {"code": code, "name": code.title(), "price_cents": price} | kw
    return ok(await client.post(f"{API}/plans", json=body, headers=headers), 201)


async def test_sign_up_pay_upgrade_downgrade_cancel(
    app_client: httpx.AsyncClient, session: AsyncSession, desk: dict[str, Any]
) -> None:
    owner, staff, ana = desk["owner"], desk["staff"], desk["ana"]
    basico = await _plan(
        app_client,
        owner,
        "basico",
        49900,
        enrollment_fee_cents=20000,
        class_credits=8,
        location_ids=[desk["centro"].id],
    )
    premium = await _plan(app_client, owner, "premium", 79900)
    assert basico["location_ids"] == [desk["centro"].id] and not basico["all_locations"]

    card = ok(
        await app_client.post(
            f"{API}/payment-methods",
            headers=staff,
            json={
                "member_id": ana.id,
                "provider": "fake",
                "customer_id": "cus-1",
                "card_id": "card-1",
                "brand": "visa",
                "last4": "4242",
                "exp_month": 12,
                "exp_year": 2030,
            },
        ),
        201,
    )
    assert card["is_default"] is True  # the first card becomes the default

    signup = ok(
        await app_client.post(
            f"{API}/subscriptions",
            headers=staff,
            json={"member_id": ana.id, "plan_id": basico["id"]},
        ),
        201,
    )
    sub = signup["subscription"]
    assert sub["status"] == "active" and sub["class_credits_remaining"] == 8
    first = signup["invoice"]
    assert first["total_cents"] == 69900  # plan + enrollment fee
    assert first["status"] == "paid"  # charged to the saved card at once
    assert [line["kind"] for line in first["lines"]] == ["plan", "enrollment"]
    assert sum(line["amount_cents"] for line in first["lines"]) == first["total_cents"]

    again = await app_client.post(
        f"{API}/subscriptions", headers=staff, json={"member_id": ana.id, "plan_id": premium["id"]}
    )
    error(again, 409)

    up = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub['id']}/upgrade",
            headers=staff,
            json={"plan_id": premium["id"]},
        )
    )
    assert up["subscription"]["plan_id"] == premium["id"]
    proration = up["invoice"]
    assert proration["lines"][0]["kind"] == "proration"
    assert 0 < proration["total_cents"] <= 30000 and proration["status"] == "paid"

    wrong_way = await app_client.post(
        f"{API}/subscriptions/{sub['id']}/upgrade", headers=staff, json={"plan_id": basico["id"]}
    )
    error(wrong_way, 422)
    down = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub['id']}/downgrade",
            headers=staff,
            json={"plan_id": basico["id"]},
        )
    )
    assert down["subscription"]["pending_plan_id"] == basico["id"]
    assert down["effective_at"] == down["subscription"]["current_period_end"]

    canceled = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub['id']}/cancel", headers=staff, json={"reason": "me mudo"}
        )
    )
    assert canceled["cancel_at_period_end"] and canceled["status"] == "active"
    kept = ok(
        await app_client.patch(
            f"{API}/subscriptions/{sub['id']}", headers=staff, json={"cancel_at_period_end": False}
        )
    )
    assert kept["cancel_at_period_end"] is False

    now = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub['id']}/cancel",
            headers=staff,
            json={"reason": "ya no", "at_period_end": False},
        )
    )
    assert now["status"] == "canceled"
    resumed = await app_client.post(f"{API}/subscriptions/{sub['id']}/resume", headers=staff)
    error(resumed, 409, "invalid_transition")

    invoices = ok(
        await app_client.get(f"{API}/invoices", headers=staff, params={"memberId": ana.id})
    )
    assert len(invoices["items"]) == 2
    assert await count(session, Payment) == 2
    actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {
        "plan.created",
        "subscription.created",
        "subscription.upgraded",
        "subscription.downgraded",
        "subscription.canceled",
        "invoice.paid",
    } <= actions


async def test_pause_and_resume_and_immediate_downgrade_credit(
    app_client: httpx.AsyncClient, session: AsyncSession, desk: dict[str, Any]
) -> None:
    owner, staff, ana = desk["owner"], desk["staff"], desk["ana"]
    desk["gym"].billing_settings = {"downgrade": "immediate_credit"}
    await session.commit()
    basico = await _plan(app_client, owner, "basico", 49900)
    premium = await _plan(app_client, owner, "premium", 79900)
    signup = ok(
        await app_client.post(
            f"{API}/subscriptions",
            headers=staff,
            json={"member_id": ana.id, "plan_id": premium["id"]},
        ),
        201,
    )
    sub_id = signup["subscription"]["id"]
    assert signup["invoice"]["status"] == "open"  # no card: the invoice waits

    down = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub_id}/downgrade", headers=staff, json={"plan_id": basico["id"]}
        )
    )
    assert down["subscription"]["plan_id"] == basico["id"]
    assert 0 < down["credit_cents"] <= 30000
    balance = ok(await app_client.get(f"{API}/credits/{ana.id}", headers=staff))
    assert balance["balance_cents"] == down["credit_cents"]

    too_long = await app_client.post(
        f"{API}/subscriptions/{sub_id}/pause", headers=staff, json={"days": 200}
    )
    error(too_long, 422)
    paused = ok(
        await app_client.post(
            f"{API}/subscriptions/{sub_id}/pause", headers=staff, json={"days": 14}
        )
    )
    assert paused["status"] == "paused" and paused["resume_at"]
    resumed = ok(await app_client.post(f"{API}/subscriptions/{sub_id}/resume", headers=staff))
    assert resumed["status"] == "active"


async def test_cash_payment_void_receipt_and_report(
    app_client: httpx.AsyncClient, session: AsyncSession, desk: dict[str, Any]
) -> None:
    owner, staff, ana = desk["owner"], desk["staff"], desk["ana"]
    basico = await _plan(app_client, owner, "basico", 49900)
    signup = ok(
        await app_client.post(
            f"{API}/subscriptions",
            headers=staff,
            json={"member_id": ana.id, "plan_id": basico["id"]},
        ),
        201,
    )
    invoice = signup["invoice"]
    wrong = await app_client.post(
        f"{API}/invoices/{invoice['id']}/payments", headers=staff, json={"amount_cents": 100}
    )
    error(wrong, 422)
    paid = ok(
        await app_client.post(
            f"{API}/invoices/{invoice['id']}/payments",
            headers=staff,
            json={"amount_cents": 49900, "reference": "caja"},
        ),
        201,
    )
    assert paid["method"] == "cash" and paid["status"] == "approved"
    twice = await app_client.post(
        f"{API}/invoices/{invoice['id']}/payments", headers=staff, json={"amount_cents": 49900}
    )
    error(twice, 409)
    assert await count(session, Payment) == 1  # money is never counted twice

    pdf = await app_client.get(f"{API}/invoices/{invoice['id']}/receipt.pdf", headers=staff)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    void = await app_client.post(f"{API}/invoices/{invoice['id']}/void", headers=owner)
    error(void, 409)  # paid invoices are not voided
    forbidden = await app_client.post(f"{API}/invoices/{invoice['id']}/void", headers=staff)
    error(forbidden, 403)

    report = ok(
        await app_client.get(
            f"{API}/reports/revenue", headers=owner, params={"from": "2026-01", "to": "2026-12"}
        )
    )
    assert report["mrr_cents"] == 49900 and report["active_members"] == 1
    assert sum(m["collected_cents"] for m in report["months"]) >= 49900
    assert set(report["receivables"]) == {"current", "1_30", "31_60", "61_90", "over_90"}
    error(
        await app_client.get(
            f"{API}/reports/revenue", headers=owner, params={"from": "2026-13", "to": "2026-12"}
        ),
        422,
    )
    error(
        await app_client.get(
            f"{API}/reports/revenue", headers=staff, params={"from": "2026-01", "to": "2026-12"}
        ),
        403,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"code": "x", "name": "X", "price_cents": -1},
        {"code": "x", "name": "X", "price_cents": 10**12},
        {"code": "Bad Code", "name": "X", "price_cents": 100},
        {"code": "x", "name": "X", "price_cents": 100, "interval": "fortnight"},
        {"code": "x", "name": "X", "price_cents": 100, "promo_price_cents": 500},
        {"code": "x", "name": "X", "price_cents": 100, "location_ids": [987654]},
        {"code": "x", "name": "X", "price_cents": 100, "surprise": True},
    ],
)
async def test_bad_plans_are_4xx_and_nothing_is_written(
    app_client: httpx.AsyncClient, session: AsyncSession, desk: dict[str, Any], body: dict
) -> None:
    response = await app_client.post(f"{API}/plans", json=body, headers=desk["owner"])
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message_en"]
    assert await count(session, Plan) == 0


async def test_malformed_json_and_unknown_ids(
    app_client: httpx.AsyncClient, desk: dict[str, Any]
) -> None:
    staff = desk["staff"]
    broken = await app_client.post(
        f"{API}/subscriptions",
        content=b'{"member_id": 1,',
        headers=staff | {"content-type": "application/json"},
    )
    assert 400 <= broken.status_code < 500
    error(
        await app_client.post(
            f"{API}/subscriptions",
            headers=staff,
            json={"member_id": desk["ana"].id, "plan_id": 999999},
        ),
        404,
    )
    error(await app_client.post(f"{API}/subscriptions/999999/resume", headers=staff), 404)


async def test_another_gyms_billing_is_404_and_never_listed(
    app_client: httpx.AsyncClient,
    session: AsyncSession,
    settings: Settings,
    desk: dict[str, Any],
) -> None:
    owner = desk["owner"]
    plan = await _plan(app_client, owner, "basico", 49900)
    card = ok(
        await app_client.post(
            f"{API}/payment-methods",
            headers=owner,
            json={
                "member_id": desk["ana"].id,
                "provider": "fake",
                "customer_id": "c",
                "card_id": "k",
            },
        ),
        201,
    )
    signup = ok(
        await app_client.post(
            f"{API}/subscriptions",
            headers=owner,
            json={"member_id": desk["ana"].id, "plan_id": plan["id"]},
        ),
        201,
    )
    sub_id, invoice_id = signup["subscription"]["id"], signup["invoice"]["id"]

    other = await make_second_gym(session)
    intruder_user = await make_staff(session, other, "owner", email="owner@otro.test")
    stranger = await make_member(session, other, phone="+525599999999")
    await session.commit()
    intruder = auth_headers(settings.secret_key, intruder_user)

    for method, path, body in [
        ("GET", f"/plans/{plan['id']}", None),
        ("PATCH", f"/plans/{plan['id']}", {"price_cents": 1}),
        ("DELETE", f"/plans/{plan['id']}", None),
        ("GET", f"/subscriptions/{sub_id}", None),
        ("PATCH", f"/subscriptions/{sub_id}", {"cancel_at_period_end": False}),
        ("POST", f"/subscriptions/{sub_id}/cancel", {"reason": "x"}),
        ("POST", f"/subscriptions/{sub_id}/upgrade", {"plan_id": plan["id"]}),
        ("POST", f"/subscriptions/{sub_id}/downgrade", {"plan_id": plan["id"]}),
        ("POST", f"/subscriptions/{sub_id}/pause", {"days": 10}),
        ("POST", f"/subscriptions/{sub_id}/resume", None),
        ("POST", f"/subscriptions/{sub_id}/seats", {"member_id": stranger.id}),
        ("DELETE", f"/subscriptions/{sub_id}/seats/{stranger.id}", None),
        ("POST", "/subscriptions", {"member_id": desk["ana"].id, "plan_id": plan["id"]}),
        ("GET", f"/invoices/{invoice_id}", None),
        ("GET", f"/invoices/{invoice_id}/receipt.pdf", None),
        ("POST", f"/invoices/{invoice_id}/void", None),
        ("POST", f"/invoices/{invoice_id}/payments", {"amount_cents": 100}),
        ("DELETE", f"/payment-methods/{card['id']}", None),
        ("PATCH", f"/payment-methods/{card['id']}/set-default", None),
        (
            "POST",
            "/payment-methods",
            {"member_id": desk["ana"].id, "provider": "fake", "customer_id": "c", "card_id": "k"},
        ),
        ("POST", "/credits", {"member_id": desk["ana"].id, "amount_cents": 100}),
        ("GET", f"/credits/{desk['ana'].id}", None),
        ("GET", "/subscriptions?gymId=" + str(desk["gym"].id), None),
        ("GET", "/invoices?gymId=" + str(desk["gym"].id), None),
    ]:
        response = await app_client.request(method, API + path, json=body, headers=intruder)
        error(response, 404)

    for path in ("/plans", "/subscriptions", "/invoices", "/payment-methods", "/companies"):
        listed = ok(await app_client.get(API + path, headers=intruder))
        assert listed["items"] == [], path
    report = ok(
        await app_client.get(
            f"{API}/reports/revenue", headers=intruder, params={"from": "2026-01", "to": "2026-12"}
        )
    )
    assert report["mrr_cents"] == 0
    # Nothing of the first gym changed.
    sub = await session.get(Subscription, sub_id)
    assert sub is not None and sub.status == "active" and not sub.cancel_at_period_end
    assert await count(session, Invoice) == 1
