"""Referral texts the backend writes itself: the share text of a code, how an offer or a
reward reads, and the notices sent when a friend converts (through the outbox).

Chat replies live in dialogs/catalog/referrals.*.yml; these are needed by backend jobs and
the REST API, which cannot reach the dialogs package.
"""

from __future__ import annotations

from typing import Any

from backend.format import money

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "prefill": "Hola, vengo de parte de {name}, mi código es {code}",
        "share": (
            "¡Vente a entrenar conmigo a {gym}! 💪 Escríbeles por WhatsApp con mi código "
            "*{code}*{offer}: {link}"
        ),
        "share_offer": " y te llevas {offer}",
        "offer_first_month_discount": "{value}% de descuento en tu primer mes",
        "offer_waived_enrollment": "la inscripción gratis",
        "offer_credit": "{amount} de descuento en tu primer pago",
        "reward_free_days": "{value} días gratis de membresía",
        "reward_credit": "{amount} de saldo a favor",
        "reward_percent_off": "{value}% de descuento en tu próximo recibo ({amount})",
        "reward_feature": "{value} días de {feature}",
        "feature_body_scan": "escaneo corporal",
        "detail_free_days": " Tu membresía ahora vence el {date}.",
        "detail_credit": " Se aplica solo en tu próximo recibo.",
        "detail_feature": " Lo tienes hasta el {date}.",
        "referrer_rewarded": (
            "🎉 ¡{friend} ya se inscribió con tu código {code}! Te ganaste {reward}.{detail}"
            "{tier} ¡Gracias por invitar! Para compartir tu código otra vez escribe *mi código*."
        ),
        "tier_up": " 🏅 ¡Ya eres *{tier}*!",
        "referrer_capped": (
            "🎉 ¡{friend} ya se inscribió con tu código {code}! Este mes ya llegaste al tope "
            "de premios del programa; los amigos que se inscriban el próximo mes sí cuentan. "
            "¡Gracias por invitar!"
        ),
        "referred_converted": (
            "¡Gracias por tu primer pago, {name}! 🙌 Tu regalo por venir de parte de "
            "{referrer} ya quedó aplicado: {offer}. ¿Quieres invitar a alguien más? "
            "Escribe *mi código*."
        ),
        "referred_converted_plain": (
            "¡Gracias por tu primer pago, {name}! 🙌 {referrer} ya recibió su premio por "
            "invitarte. ¿Quieres invitar a alguien más? Escribe *mi código*."
        ),
        "friend": "tu amigo",
    },
    "en": {
        "prefill": "Hi, {name} invited me, my code is {code}",
        "share": (
            "Come train with me at {gym}! 💪 Message them on WhatsApp with my code "
            "*{code}*{offer}: {link}"
        ),
        "share_offer": " and get {offer}",
        "offer_first_month_discount": "{value}% off your first month",
        "offer_waived_enrollment": "no enrollment fee",
        "offer_credit": "{amount} off your first payment",
        "reward_free_days": "{value} free days of membership",
        "reward_credit": "{amount} in account credit",
        "reward_percent_off": "{value}% off your next invoice ({amount})",
        "reward_feature": "{value} days of {feature}",
        "feature_body_scan": "body scans",
        "detail_free_days": " Your membership now runs until {date}.",
        "detail_credit": " It's applied to your next invoice automatically.",
        "detail_feature": " You have it until {date}.",
        "referrer_rewarded": (
            "🎉 {friend} just joined with your code {code}! You earned {reward}.{detail}"
            "{tier} Thanks for the invite! To share your code again write *my code*."
        ),
        "tier_up": " 🏅 You're now *{tier}*!",
        "referrer_capped": (
            "🎉 {friend} just joined with your code {code}! You've reached this month's "
            "reward limit; friends who join next month still count. Thanks for the invite!"
        ),
        "referred_converted": (
            "Thanks for your first payment, {name}! 🙌 Your gift for coming through "
            "{referrer} is applied: {offer}. Want to invite someone? Write *my code*."
        ),
        "referred_converted_plain": (
            "Thanks for your first payment, {name}! 🙌 {referrer} got their reward for "
            "inviting you. Want to invite someone? Write *my code*."
        ),
        "friend": "your friend",
    },
}


def text(lang: str, key: str, **values: Any) -> str:
    table = TEXTS.get(lang, TEXTS["es"])
    return table.get(key, TEXTS["es"][key]).format(**values)


def first_name(name: str | None, lang: str) -> str:
    return (name or "").split(" ")[0] or text(lang, "friend")


def feature_name(lang: str, feature: str | None) -> str:
    key = f"feature_{feature}"
    table = TEXTS.get(lang, TEXTS["es"])
    return table.get(key) or (feature or "").replace("_", " ")


def offer(lang: str, kind: str, value: int, amount_cents: int) -> str:
    """How the friend's offer reads ("50% de descuento en tu primer mes"); '' for none."""
    if kind == "none":
        return ""
    return text(lang, f"offer_{kind}", value=value, amount=money(amount_cents))


def reward(lang: str, kind: str, value: int, amount_cents: int, feature: str | None) -> str:
    """How the referrer's reward reads ("7 días gratis de membresía")."""
    return text(
        lang,
        f"reward_{kind}",
        value=value,
        amount=money(amount_cents),
        feature=feature_name(lang, feature),
    )
