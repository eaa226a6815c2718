"""'Ya llegué': verify presence (today's QR code or a location pin, or trust) and check in."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from backend.billing.service import covered_location_ids, current_holding
from backend.checkins.service import (
    AlreadyCheckedIn,
    CheckInRefused,
    LocationNotCovered,
    NoAccess,
    check_in,
    code_matches,
    ensure_may_enter,
)
from backend.gyms.models import Location
from backend.gyms.service import local_today, nearest_location
from dialogs import format as fmt
from dialogs.turn import END, PASS, Flow, Turn

MAX_PROMPTS = 2


async def start(turn: Turn) -> str:
    return await _try(turn, first=True)


async def await_proof(turn: Turn) -> str:
    return await _try(turn, first=False)


async def _try(turn: Turn, *, first: bool) -> str:
    locations = list(turn.locations)
    point = turn.message.location
    if point is not None:
        nearest = nearest_location(locations, point.latitude, point.longitude)
        if nearest is None or not nearest.inside:
            turn.say(
                "checkin_too_far",
                location=nearest.location.name if nearest else turn.gym.name,
                distance=fmt.distance(nearest.meters if nearest else 0),
            )
            return "await_proof"
        return await _attempt(turn, nearest.location, "location", point.latitude, point.longitude)

    code = turn.nlu.entity("checkin_code")
    if code is not None:
        slug = turn.nlu.entity("checkin_location") or ""
        location = next((loc for loc in locations if loc.slug == slug), None)
        today = local_today(turn.gym, turn.now)
        if location is None or not code_matches(turn.settings.secret_key, location, code, today):
            turn.say("checkin_bad_code")
            return "await_proof"
        return await _attempt(turn, location, "code")

    if turn.gym.checkin_policy == "trust":
        return await _attempt(turn, _trusted_location(turn, locations), "trust")

    if not first and turn.intent not in ("check_in", "out_of_scope", "affirm"):
        return PASS  # the member moved on to something else
    try:  # no point asking for the QR of someone who can't come in right now
        await ensure_may_enter(turn.session, turn.member, turn.now, _cooldown(turn))
    except CheckInRefused as exc:
        await _explain(turn, exc)
        return END
    prompts = turn.slots.get("prompts", 0) + 1
    turn.slots["prompts"] = prompts
    turn.say("checkin_need_proof")
    return "await_proof" if prompts < MAX_PROMPTS else END


def _trusted_location(turn: Turn, locations: list[Location]) -> Location:
    named = turn.nlu.entity("location")
    for loc in locations:
        if named and named.lower() in (loc.slug, loc.name.lower()):
            return loc
    home = next((loc for loc in locations if loc.id == turn.member.home_location_id), None)
    return home or locations[0]


async def _attempt(
    turn: Turn,
    location: Location,
    method: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> str:
    try:
        outcome = await check_in(
            turn.session,
            gym=turn.gym,
            member=turn.member,
            location=location,
            method=method,
            now=turn.now,
            cooldown=_cooldown(turn),
            latitude=latitude,
            longitude=longitude,
        )
    except CheckInRefused as exc:
        await _explain(turn, exc)
        return END
    stats = outcome.stats
    visits = (
        turn.text("visits_one")
        if stats.visits_this_month == 1
        else turn.text("visits_many", n=stats.visits_this_month)
    )
    streak = turn.text("checkin_streak", weeks=stats.week_streak) if stats.week_streak >= 2 else ""
    turn.say(
        "checkin_ok",
        name=(turn.member.name or "").split(" ")[0],
        location=location.name,
        time=fmt.clock(turn.now.astimezone(ZoneInfo(turn.gym.timezone)), turn.lang),
        visits=visits,
        streak=streak,
    )
    if outcome.owed_cents:
        turn.say("checkin_grace_reminder", amount=fmt.money(outcome.owed_cents))
    return END


def _cooldown(turn: Turn) -> timedelta:
    return timedelta(hours=turn.settings.checkin_cooldown_hours)


async def _explain(turn: Turn, refusal: CheckInRefused) -> None:
    """Turn a refusal into a reply that says why and what to do."""
    tz = ZoneInfo(turn.gym.timezone)
    if isinstance(refusal, AlreadyCheckedIn):
        where = next(
            (loc.name for loc in turn.locations if loc.id == refusal.location_id),
            turn.gym.name,
        )
        turn.say(
            "checkin_already",
            time=fmt.clock(refusal.at.astimezone(tz), turn.lang),
            location=where,
            hours=turn.settings.checkin_cooldown_hours,
        )
    elif isinstance(refusal, NoAccess):
        if refusal.owed_cents > 0:
            details = "; ".join(
                turn.text(
                    "invoice_due",
                    number=inv.number,
                    date=fmt.day(inv.due_at.astimezone(tz).date(), turn.lang),
                )
                for inv in refusal.open_invoices
            )
            turn.say("checkin_owed", amount=fmt.money(refusal.owed_cents), invoices=details)
        elif refusal.expired_on is not None:
            ended = (refusal.expired_on - timedelta(seconds=1)).astimezone(tz).date()
            turn.say("checkin_expired", date=fmt.day(ended, turn.lang))
        else:
            turn.say("checkin_no_membership")
    elif isinstance(refusal, LocationNotCovered):
        turn.say(
            "checkin_not_covered", plan=refusal.plan_name, locations=await _covered_names(turn)
        )


async def _covered_names(turn: Turn) -> str:
    holding = await current_holding(turn.session, turn.member.id)
    if holding is None:
        return ""
    locations = turn.locations
    covered = (
        {loc.id for loc in locations}
        if holding.plan.all_locations
        else set(await covered_location_ids(turn.session, holding.plan.id))
    )
    return fmt.join_list([loc.name for loc in locations if loc.id in covered], turn.text("and"))


CHECK_IN = Flow("check_in", start, {"await_proof": await_proof}, timeout=timedelta(minutes=10))
