"""Redemption rules, conversion and rewards (kinds, tiers, caps), fraud review, expiry,
the `settle` hook, and one-use codes raced on real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from backend.billing import credits
from backend.billing.invoices import lock_invoice, settle
from backend.billing.models import Subscription
from backend.cfdi.models import MemberFiscalProfile
from backend.db import transaction
from backend.integrations.fake_payments import FakePaymentProvider
from backend.payments.models import Payment, PaymentAlert, PaymentMethod
from backend.payments.refunds import refund_payment
from backend.referrals import codes, rewards, service
from backend.referrals.models import FeatureGrant, Referral, ReferralCode, ReferralReward
from backend.types import utcnow
from tests.backend.referrals.conftest import Ref, friend, signs_up_and_pays
from tests.factories import (
    make_gym,
    make_invoice,
    make_member,
    make_plan,
    make_referral_program,
    make_subscription,
)
from tests.whatsapp import RecordingJobs


def test_codes_are_readable_and_matched_loosely() -> None:
    assert codes.prefixes("Ana López") == ["ANA", "ANAL", "AMIGO"]
    assert codes.prefixes("Ñoño") == ["NONO", "AMIGO"]
    assert codes.prefixes(None) == ["AMIGO"]
    assert codes.normalize_code(" ana-4821 ") == "ANA4821"
    assert codes.normalize_code("Paco 2024") == "PACO2024"
    assert codes.normalize_code("ANA-48") is None and codes.normalize_code("hola") is None
    assert set(codes.random_digits()) <= set("23456789")
    assert codes.wa_link("+14155238886", "Hola, mi código es ANA-4821") == (
        "https://wa.me/14155238886?text=Hola%2C%20mi%20c%C3%B3digo%20es%20ANA-4821"
    )


async def test_code_is_stable_and_unique_per_gym(session: AsyncSession, ref: Ref) -> None:
    again = await service.issue_code(session, ref.gym, ref.ana, ref.now, actor="test")
    assert again.id == ref.code.id and ref.code.code.startswith("ANA-")
    other = await make_member(session, ref.gym, phone="+525500000002", name="Ana María")
    await make_subscription(session, other, ref.premium)
    theirs = await service.issue_code(session, ref.gym, other, ref.now, actor="test")
    assert theirs.normalized != ref.code.normalized


async def test_eligibility_needs_an_active_plan_paid_long_enough(
    session: AsyncSession, ref: Ref
) -> None:
    ref.program.min_paid_days = 30
    newbie = await make_member(session, ref.gym, phone="+525500000003", name="Leo")
    await make_subscription(session, newbie, ref.premium)
    with pytest.raises(service.NotEligible) as exc:
        await service.issue_code(session, ref.gym, newbie, ref.now, actor="test")
    assert exc.value.reason == "too_new" and exc.value.days_left == 30
    paid = await make_invoice(session, newbie, 79900, status="paid", number="A-000900")
    paid.paid_at = ref.now - timedelta(days=31)
    await session.flush()
    assert await service.issue_code(session, ref.gym, newbie, ref.now, actor="test")
    prospect = await friend(session, ref)
    with pytest.raises(service.NotEligible):
        await service.issue_code(session, ref.gym, prospect, ref.now, actor="test")


async def test_friend_reward_is_credit_and_referrer_reward_once(
    session: AsyncSession, ref: Ref
) -> None:
    sofia = await friend(session, ref)
    result = await service.redeem(
        session, ref.gym, sofia, "ana" + ref.code.code[-4:], ref.now, actor="t"
    )
    assert result.outcome == "redeemed" and result.offer_cents == 24950
    invoice = await signs_up_and_pays(session, ref, sofia)
    assert invoice.credit_applied_cents == 24950
    for _ in range(3):  # a payment notification delivered three times
        await rewards.process_member(session, sofia.id, ref.now)
    await rewards.sweep(session, ref.now)
    referral = await session.scalar(select(Referral))
    assert referral is not None and referral.status == "rewarded"
    assert referral.invoice_id == invoice.id
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 20000


async def test_free_days_extend_the_period_and_feature_grants(
    session: AsyncSession, ref: Ref
) -> None:
    sub = await session.scalar(select(Subscription).where(Subscription.member_id == ref.ana.id))
    assert sub is not None
    end = sub.current_period_end
    ref.program.referrer_reward, ref.program.referrer_value = "free_days", 7
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    await signs_up_and_pays(session, ref, sofia)
    assert await rewards.process_member(session, sofia.id, ref.now) == "rewarded"
    assert sub.current_period_end == end + timedelta(days=7)
    reward = await session.scalar(select(ReferralReward).where(ReferralReward.side == "referrer"))
    assert reward is not None and reward.amount_cents == 79900 * 7 // 30

    ref.program.referrer_reward, ref.program.referrer_feature = "feature", "body_scan"
    luis = await friend(session, ref, "Luis")
    await service.redeem(session, ref.gym, luis, ref.code.code, ref.now, actor="t")
    await signs_up_and_pays(session, ref, luis)
    await rewards.process_member(session, luis.id, ref.now)
    grant = await session.scalar(select(FeatureGrant))
    assert grant is not None and grant.feature == "body_scan"
    assert grant.ends_at - grant.starts_at == timedelta(days=7)


async def test_tiers_raise_rewards_and_monthly_cap_stops_them(
    session: AsyncSession, ref: Ref
) -> None:
    ref.program.tiers = [{"name": "Embajador", "min_conversions": 2, "bonus_percent": 50}]
    ref.program.monthly_cap_per_referrer = 2
    got = []
    for name in ("Uno", "Dos", "Tres"):
        member = await friend(session, ref, name)
        await service.redeem(session, ref.gym, member, ref.code.code, ref.now, actor="t")
        await signs_up_and_pays(session, ref, member)
        await rewards.process_member(session, member.id, ref.now)
        row = await session.scalar(
            select(ReferralReward)
            .where(ReferralReward.side == "referrer", ReferralReward.member_id == ref.ana.id)
            .order_by(ReferralReward.id.desc())
        )
        assert row is not None
        got.append((row.amount_cents, row.status, row.tier))
    assert got == [
        (20000, "granted", None),
        (30000, "granted", "Embajador"),
        (30000, "capped", "Embajador"),
    ]
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 50000


async def test_refusals_attribute_nothing(session: AsyncSession, ref: Ref) -> None:
    own = await service.redeem(session, ref.gym, ref.ana, ref.code.code, ref.now, actor="t")
    assert own.outcome == "own_code"
    member = await make_member(session, ref.gym, phone="+525500000004", name="Socio")
    await make_subscription(session, member, ref.basico)
    assert (
        await service.redeem(session, ref.gym, member, ref.code.code, ref.now, actor="t")
    ).outcome == "already_member"
    # Left 30 days ago: a recent ex-member is not "new"; one who left a year ago is welcome.
    ex = await make_member(session, ref.gym, phone="+525500000005", name="Ex", status="inactive")
    old = await make_subscription(session, ex, ref.premium, status="canceled", days_left=-30)
    inv = await make_invoice(session, ex, 79900, status="paid", number="A-000901")
    inv.subscription_id, inv.paid_at = old.id, ref.now - timedelta(days=60)
    await session.flush()
    assert (
        await service.redeem(session, ref.gym, ex, ref.code.code, ref.now, actor="t")
    ).outcome == "recent_ex_member"
    old.current_period_end = ref.now - timedelta(days=365)
    inv.paid_at = ref.now - timedelta(days=400)
    await session.flush()
    assert (
        await service.redeem(session, ref.gym, ex, ref.code.code, ref.now, actor="t")
    ).outcome == "redeemed"
    unknown = await service.redeem(session, ref.gym, member, "ZZZ-2345", ref.now, actor="t")
    assert unknown.outcome == "unknown"
    assert (
        await service.redeem(session, ref.gym, member, "??", ref.now, actor="t")
    ).outcome == "malformed"
    assert len((await session.scalars(select(Referral))).all()) == 1


async def test_velocity_goes_to_review_and_approval_releases_the_gift(
    session: AsyncSession, ref: Ref
) -> None:
    ref.program.velocity_per_day = 2
    outcomes = []
    for name in ("A", "B", "C"):
        member = await friend(session, ref, name)
        outcomes.append(
            await service.redeem(session, ref.gym, member, ref.code.code, ref.now, actor="t")
        )
    assert [o.outcome for o in outcomes] == ["redeemed", "redeemed", "review"]
    held = outcomes[2].referral
    assert held is not None and held.flags == ["velocity"]
    assert await credits.balance(session, ref.gym.id, held.referred_id) == 0
    await rewards.approve(session, held, actor="staff:1", now=ref.now)
    assert await credits.balance(session, ref.gym.id, held.referred_id) == 24950
    assert held.review_status == "approved" and held.status == "redeemed"


async def test_same_card_holds_conversion_and_reject_takes_back_credit(
    session: AsyncSession, ref: Ref
) -> None:
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    for member in (ref.ana, sofia):
        session.add(
            PaymentMethod(
                gym_id=ref.gym.id,
                member_id=member.id,
                provider="fake",
                provider_customer_id=f"c{member.id}",
                provider_card_id=f"k{member.id}",
                fingerprint="fp-same-card",
                is_default=True,
            )
        )
    await session.flush()
    await signs_up_and_pays(session, ref, sofia, ref.basico)  # uses all of the 24950 credit?
    assert await rewards.process_member(session, sofia.id, ref.now) == "converted"
    referral = await session.scalar(select(Referral))
    assert referral is not None and referral.review_status == "pending"
    assert referral.flags == ["same_card"]
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 0
    pending = await session.scalar(select(ReferralReward).where(ReferralReward.side == "referrer"))
    assert pending is not None and pending.status == "pending_review"

    await rewards.reject(session, referral, reason="misma tarjeta", actor="staff:1", now=ref.now)
    assert referral.status == "rejected" and pending.status == "rejected"
    await rewards.sweep(session, ref.now)
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 0


async def test_same_fiscal_rfc_holds_conversion(session: AsyncSession, ref: Ref) -> None:
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    for member in (ref.ana, sofia):
        session.add(
            MemberFiscalProfile(
                gym_id=ref.gym.id,
                member_id=member.id,
                rfc="XIQB891116QE4",
                legal_name="ANA LOPEZ PEREZ",
                regimen="612",
                postal_code="06600",
                uso_cfdi="G03",
            )
        )
    await session.flush()
    await signs_up_and_pays(session, ref, sofia, ref.basico)
    assert await rewards.process_member(session, sofia.id, ref.now) == "converted"
    referral = await session.scalar(select(Referral))
    assert referral is not None and referral.review_status == "pending"
    assert referral.flags == ["same_rfc"]


async def test_high_value_reward_waits_for_approval(session: AsyncSession, ref: Ref) -> None:
    ref.program.review_above_cents = 10000
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    await signs_up_and_pays(session, ref, sofia)
    assert await rewards.process_member(session, sofia.id, ref.now) == "converted"
    referral = await session.scalar(select(Referral))
    assert referral is not None and "high_value" in referral.flags
    await rewards.approve(session, referral, actor="staff:1", now=ref.now)
    assert referral.status == "rewarded"
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 20000


async def test_expiry_of_codes_and_unconverted_referrals(session: AsyncSession, ref: Ref) -> None:
    ref.program.max_uses_per_code = 1
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    assert ref.code.uses == 1
    later = ref.now + timedelta(days=31)
    ref.code.expires_at = later - timedelta(hours=1)
    await session.flush()
    assert await rewards.expire(session, later) == {"codes": 1, "referrals": 1}
    referral = await session.scalar(select(Referral))
    assert referral is not None and referral.status == "expired"
    assert await credits.balance(session, ref.gym.id, sofia.id) == 0  # gift taken back
    await session.refresh(ref.code)
    assert ref.code.status == "expired" and ref.code.uses == 0
    # Asking for the code again renews the same code.
    renewed = await service.issue_code(session, ref.gym, ref.ana, later, actor="t")
    assert renewed.id == ref.code.id and renewed.status == "issued"


async def test_settle_enqueues_the_referral_check(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    jobs = RecordingJobs()
    sessionmaker.kw["info"] = {"jobs": jobs}
    try:
        async with transaction(sessionmaker) as session:
            gym = await make_gym(session)
            member = await make_member(session, gym)
            invoice = await make_invoice(session, member, 49900)
            locked = await lock_invoice(session, gym.id, invoice.id)
            assert locked is not None
            await settle(session, locked, actor="t", now=utcnow(), payment_id=None)
        assert ("referral_check", (member.id,), f"referral-check:{invoice.id}") in jobs.enqueued
    finally:
        sessionmaker.kw.pop("info", None)


async def test_one_use_code_raced_by_two_friends_has_one_winner(
    committed_sessionmaker: async_sessionmaker[AsyncSession], is_postgres: bool
) -> None:
    if not is_postgres:
        pytest.skip("row locks need PostgreSQL (SQLite serializes writers anyway)")
    async with transaction(committed_sessionmaker) as session:
        gym = await make_gym(session)
        plan = await make_plan(session, gym, "basico", 49900)
        ana = await make_member(session, gym)
        await make_subscription(session, ana, plan)
        await make_referral_program(session, gym, max_uses_per_code=1)
        code = await service.issue_code(session, gym, ana, utcnow(), actor="t")
        friends = [
            await make_member(
                session, gym, phone=f"+5255000001{i:02d}", name=f"F{i}", status="prospect"
            )
            for i in range(2)
        ]
    barrier = asyncio.Barrier(2)

    async def attempt(friend_id: int) -> str:
        async with transaction(committed_sessionmaker) as session:
            g = await session.get(type(gym), gym.id)
            f = await session.get(type(ana), friend_id)
            assert g is not None and f is not None
            await barrier.wait()
            result = await service.redeem(session, g, f, code.code, utcnow(), actor="t")
            await asyncio.sleep(0.05)  # hold the transaction open while the other one waits
            return result.outcome

    outcomes = await asyncio.gather(*(attempt(f.id) for f in friends))
    assert sorted(outcomes) == ["redeemed", "used_up"]
    async with committed_sessionmaker() as session:
        assert len((await session.scalars(select(Referral))).all()) == 1
        assert (await session.get(ReferralCode, code.id)).uses == 1  # type: ignore[union-attr]


async def test_a_refunded_first_payment_takes_both_rewards_back(
    session: AsyncSession, ref: Ref
) -> None:
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    invoice = await signs_up_and_pays(session, ref, sofia)
    assert await rewards.process_member(session, sofia.id, ref.now) == "rewarded"
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 20000
    uses = ref.code.uses
    payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice.id))
    assert payment is not None

    later = ref.now + timedelta(days=2)
    await refund_payment(
        session, FakePaymentProvider(), ref.gym.id, payment.id, None, actor="staff:1", now=later
    )
    referral = await session.scalar(select(Referral))
    assert referral is not None
    assert (referral.status, referral.reject_reason) == ("rejected", "refunded")
    statuses = set((await session.scalars(select(ReferralReward.status))).all())
    assert statuses == {"reversed"}
    # The referrer's unused credit and the friend's welcome credit (given back to her
    # balance by the voided invoice) are both gone; the code's use is back.
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 0
    assert await credits.balance(session, ref.gym.id, sofia.id) == 0
    await session.refresh(ref.code)
    assert ref.code.uses == uses - 1
    alert = await session.scalar(
        select(PaymentAlert).where(PaymentAlert.kind == "referral_reversed")
    )
    assert alert is not None and "reembolsado" in alert.message
    # Paying again later does not reward anyone a second time.
    await rewards.sweep(session, later)
    assert await credits.balance(session, ref.gym.id, ref.ana.id) == 0


async def test_a_refund_ends_a_feature_reward_and_keeps_spent_credit_spent(
    session: AsyncSession, ref: Ref
) -> None:
    ref.program.referrer_reward, ref.program.referrer_feature = "feature", "body_scan"
    sofia = await friend(session, ref)
    await service.redeem(session, ref.gym, sofia, ref.code.code, ref.now, actor="t")
    invoice = await signs_up_and_pays(session, ref, sofia)
    await rewards.process_member(session, sofia.id, ref.now)
    grant = await session.scalar(select(FeatureGrant))
    assert grant is not None and grant.ends_at > ref.now
    payment = await session.scalar(select(Payment).where(Payment.invoice_id == invoice.id))
    assert payment is not None
    later = ref.now + timedelta(days=2)
    await refund_payment(
        session, FakePaymentProvider(), ref.gym.id, payment.id, None, actor="staff:1", now=later
    )
    assert grant.ends_at == later
