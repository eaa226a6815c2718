"""The referral REST API: programs, codes, redemption, the review queue, analytics, and
tenant isolation (another gym's ids answer 404) on every route."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from backend.referrals import rewards, service
from backend.settings import Settings
from tests.backend.referrals.conftest import Ref, friend, signs_up_and_pays
from tests.factories import auth_headers, make_member, make_second_gym, make_staff

PROGRAM = {
    "name": "Verano",
    "referrer_reward": "percent_off",
    "referrer_value": 50,
    "referred_reward": "waived_enrollment",
    "max_uses_per_code": 3,
    "code_valid_days": 60,
}


async def test_programs_codes_redeem_review_and_analytics(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings, ref: Ref
) -> None:
    owner = await make_staff(session, ref.gym)
    trainer = await make_staff(session, ref.gym, "trainer")
    sofia = await friend(session, ref)
    await session.commit()
    h = auth_headers(settings.secret_key, owner)
    gym_id = ref.gym.id

    created = await app_client.post(
        f"/api/v1/gyms/{gym_id}/referral-programs", json=PROGRAM, headers=h
    )
    assert created.status_code == 201, created.text
    program = created.json()
    assert [t["min_conversions"] for t in program["tiers"]] == [3, 10, 25]
    listed = await app_client.get(f"/api/v1/gyms/{gym_id}/referral-programs", headers=h)
    assert {p["name"] for p in listed.json()} == {"Trae a un amigo", "Verano"}
    patched = await app_client.patch(
        f"/api/v1/referral-programs/{program['id']}", json={"priority": 5}, headers=h
    )
    assert patched.json()["priority"] == 5
    bad = await app_client.patch(
        f"/api/v1/referral-programs/{program['id']}", json={"referrer_value": 150}, headers=h
    )
    assert bad.status_code == 422 and bad.json()["error"]["message_es"]
    trainer_try = await app_client.post(
        f"/api/v1/gyms/{gym_id}/referral-programs",
        json=PROGRAM,
        headers=auth_headers(settings.secret_key, trainer),
    )
    assert trainer_try.status_code == 403

    issued = await app_client.post(
        "/api/v1/referrals",
        json={"member_id": ref.ana.id, "program_id": program["id"]},
        headers=h,
    )
    assert issued.status_code == 201, issued.text
    body = issued.json()
    assert body["code"].startswith("ANA-") and body["expires_at"]
    assert body["link"].startswith("https://wa.me/14155238886?text=Hola")
    assert body["code"] in body["share_text"] and "50% de descuento" in body["reward"]

    redeemed = await app_client.post(
        f"/api/v1/referrals/{body['code'].lower()}/redeem", json={"member_id": sofia.id}, headers=h
    )
    assert redeemed.status_code == 201, redeemed.text
    referral = redeemed.json()
    assert referral["status"] == "redeemed" and referral["source"] == "api"
    again = await app_client.post(
        f"/api/v1/referrals/{ref.code.code}/redeem", json={"member_id": sofia.id}, headers=h
    )
    assert again.status_code == 409
    assert again.json()["error"]["details"]["reason"] == "already_referred"
    unknown = await app_client.post(
        "/api/v1/referrals/ZZZ-2345/redeem", json={"member_id": sofia.id}, headers=h
    )
    assert unknown.status_code == 404
    malformed = await app_client.post(
        "/api/v1/referrals/x/redeem", json={"member_id": sofia.id}, headers=h
    )
    assert malformed.status_code == 422

    listed_refs = await app_client.get(
        f"/api/v1/referrals?referrerId={ref.ana.id}&status=redeemed", headers=h
    )
    assert [r["id"] for r in listed_refs.json()["items"]] == [referral["id"]]
    codes = await app_client.get(f"/api/v1/referrals/codes?memberId={ref.ana.id}", headers=h)
    assert len(codes.json()["items"]) == 2  # one per program

    # Review queue: staff reject a suspicious referral.
    not_pending = await app_client.post(f"/api/v1/referrals/{referral['id']}/approve", headers=h)
    assert not_pending.status_code == 409
    rejected = await app_client.post(
        f"/api/v1/referrals/{referral['id']}/reject", json={"reason": "duplicado"}, headers=h
    )
    assert rejected.json()["status"] == "rejected"
    assert rejected.json()["reject_reason"] == "duplicado"

    # A converted friend through the default program shows in the analytics.
    luis = await friend(session, ref, "Luis")
    await session.commit()
    await app_client.post(
        f"/api/v1/referrals/{ref.code.code}/redeem", json={"member_id": luis.id}, headers=h
    )
    await signs_up_and_pays(session, ref, luis)
    await rewards.process_member(session, luis.id, ref.now)
    await session.commit()
    stats = await app_client.get(f"/api/v1/referrals/{ref.program.id}/analytics", headers=h)
    assert stats.status_code == 200, stats.text
    totals = stats.json()["totals"]
    assert totals["redemptions"] == 1 and totals["conversions"] == 1
    assert totals["conversion_rate"] == 1.0 and totals["viral_k"] == 1.0
    assert totals["reward_cost_cents"] == 20000 + 24950
    assert totals["revenue_cents"] == 79900 - 24950
    assert totals["top_referrers"][0]["member_id"] == ref.ana.id
    assert len(stats.json()["months"]) == 6


async def test_another_gyms_ids_answer_404(
    app_client: httpx.AsyncClient, session: AsyncSession, settings: Settings, ref: Ref
) -> None:
    sofia = await friend(session, ref)
    result = await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    assert result.referral is not None
    other = await make_second_gym(session)
    intruder = await make_staff(session, other)
    stranger = await make_member(session, other, phone="+525599990001", name="Beto")
    await session.commit()
    h = auth_headers(settings.secret_key, intruder)
    rid, pid = result.referral.id, ref.program.id

    calls = [
        ("get", f"/api/v1/gyms/{ref.gym.id}/referral-programs", None),
        ("post", f"/api/v1/gyms/{ref.gym.id}/referral-programs", PROGRAM),
        ("get", f"/api/v1/referral-programs/{pid}", None),
        ("patch", f"/api/v1/referral-programs/{pid}", {"priority": 1}),
        ("post", "/api/v1/referrals", {"member_id": ref.ana.id}),
        ("get", f"/api/v1/referrals/{rid}", None),
        ("post", f"/api/v1/referrals/{rid}/approve", None),
        ("post", f"/api/v1/referrals/{rid}/reject", {"reason": "x"}),
        ("get", f"/api/v1/referrals/{pid}/analytics", None),
        ("post", f"/api/v1/referrals/{ref.code.code}/redeem", {"member_id": sofia.id}),
        # Their own member with this gym's code: the code does not exist over there.
        ("post", f"/api/v1/referrals/{ref.code.code}/redeem", {"member_id": stranger.id}),
    ]
    for method, url, body in calls:
        response = await app_client.request(method, url, json=body, headers=h)
        assert response.status_code == 404, (method, url, response.text)
    for url in ("/api/v1/referrals", "/api/v1/referrals/codes"):
        listed = await app_client.get(url, headers=h)
        assert listed.status_code == 200 and listed.json()["items"] == []
