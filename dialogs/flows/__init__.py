"""Every flow by name (conversation state refers to flows by name) and intent routing."""

from __future__ import annotations

from dialogs.flows import classes, common
from dialogs.flows.checkin import CHECK_IN
from dialogs.flows.onboarding import ONBOARDING, PROSPECT_GREET
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
    "gym_info": common.GYM_INFO,
    "out_of_scope": common.FALLBACK,
    **{intent: common.NOT_YET for intent in common.NOT_YET_INTENTS},
    "class_schedule": classes.CLASS_SCHEDULE,
    "book_class": classes.BOOK_CLASS,
}
# "cancela mi clase" reads as cancel_membership to the NLU: a class mention goes to the
# class cancellation, anything else to the membership flow.
INTENT_FLOWS["cancel_membership"] = classes.with_class_cancel(INTENT_FLOWS["cancel_membership"])

FLOWS: dict[str, Flow] = {
    flow.name: flow for flow in (*INTENT_FLOWS.values(), ONBOARDING, PROSPECT_GREET)
}
