"""The free one-day trial pass offer, shared by onboarding and referral redemption."""

from __future__ import annotations

from backend.billing.service import TrialAlreadyUsed, grant_trial_pass
from dialogs.turn import END, PASS, Turn


async def offer_trial(turn: Turn) -> str:
    if turn.intent == "affirm":
        try:
            await grant_trial_pass(turn.session, turn.gym, turn.member, turn.now)
        except TrialAlreadyUsed:
            turn.say("trial_used")
            return END
        names = [f"• {loc.name}: {loc.address}" for loc in turn.locations]
        turn.say("trial_granted", locations="\n".join(names))
        return END
    if turn.intent == "deny":
        turn.say("trial_declined")
        return END
    if turn.intent != "out_of_scope" or turn.slots.get("tries"):
        return PASS
    turn.slots["tries"] = 1
    turn.say("offer_trial_again")
    return "offer_trial"
