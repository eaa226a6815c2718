"""Every flow by name (conversation state refers to flows by name) and intent routing."""

from __future__ import annotations

from dialogs.flows import classes, common, gyminfo, membership, privacy
from dialogs.flows.cfdi import REQUEST_INVOICE, with_fiscal_words
from dialogs.flows.checkin import CHECK_IN
from dialogs.flows.onboarding import ONBOARDING, PROSPECT_GREET
from dialogs.flows.payments import ACCOUNT, PAY, with_payment_method
from dialogs.flows.referrals import REFERRAL_CODE, REFERRAL_REDEEM
from dialogs.turn import Flow

INTENT_FLOWS: dict[str, Flow] = {
    "greet": common.GREET,
    "help": common.HELP,
    "thanks": common.THANKS,
    "goodbye": common.GOODBYE,
    "affirm": common.AFFIRM,
    "deny": common.DENY,
    "check_in": CHECK_IN,
    "plan_info": common.PLAN_INFO,
    "out_of_scope": common.FALLBACK,
    **{intent: common.NOT_YET for intent in common.NOT_YET_INTENTS},
    "class_schedule": classes.CLASS_SCHEDULE,
    "book_class": classes.BOOK_CLASS,
    # Payments (issue 5).
    "ask_balance": ACCOUNT,
    "pay": PAY,
    # Self-service (issue 8).
    "gym_info": gyminfo.GYM_INFO,
    "my_progress": gyminfo.PROGRESS,
    "change_plan": membership.CHANGE_PLAN,
    "freeze_membership": membership.FREEZE,
    "cancel_membership": membership.CANCEL,
    "opt_out": privacy.OPT_OUT,
    "human_handoff": privacy.HANDOFF,
    "privacy_request": privacy.PRIVACY,
    # Referrals (issue 7).
    "referral_code": REFERRAL_CODE,
    "referral_redeem": REFERRAL_REDEEM,
    # CFDI (issue 6).
    "request_invoice": REQUEST_INVOICE,
}
# "START"/"ALTA", "me arrepentí" and photo consents have no intent of their own.
for _intent in ("help", "out_of_scope"):
    INTENT_FLOWS[_intent] = privacy.with_selfservice_words(INTENT_FLOWS[_intent])
# A bare "spei" / "en efectivo" from a member who owes starts a payment (issue 5).
INTENT_FLOWS["out_of_scope"] = with_payment_method(INTENT_FLOWS["out_of_scope"])
# "cancela mi clase" reads as cancel_membership to the NLU: a class mention goes to the
# class cancellation, anything else to the membership flow.
INTENT_FLOWS["cancel_membership"] = classes.with_class_cancel(INTENT_FLOWS["cancel_membership"])

# "cambiar mis datos fiscales" reads as a privacy request to the NLU: fiscal words go to
# the invoice flow.
for _intent in ("privacy_request", "out_of_scope", "help"):
    INTENT_FLOWS[_intent] = with_fiscal_words(INTENT_FLOWS[_intent])

FLOWS: dict[str, Flow] = {
    flow.name: flow for flow in (*INTENT_FLOWS.values(), ONBOARDING, PROSPECT_GREET)
}
