"""Every flow by name (conversation state refers to flows by name) and intent routing."""

from __future__ import annotations

from dialogs.flows import common
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
}

FLOWS: dict[str, Flow] = {
    flow.name: flow for flow in (*INTENT_FLOWS.values(), ONBOARDING, PROSPECT_GREET)
}
