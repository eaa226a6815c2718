"""Load benchmark for the Twilio WhatsApp webhook (`POST /webhooks/twilio/whatsapp`).

Usage (from the project root, with the server already running on this machine):

    python bench/webhook_load.py --url http://127.0.0.1:8000 --messages 5000 --concurrency 32 \
        [--database-url URL] [--gym-number +14155238886] [--warmup 200] [--members 200] \
        [--public-url URL] [--auth-token TOKEN] [--checkin-ratio 0.4] [--seed 0] [--timeout 30]

What it does:

1. Reads, with SQLAlchemy async, the gym whose `whatsapp_number` is `--gym-number`, its
   locations, and up to `--members` of its active members with a WhatsApp address
   (`DATABASE_URL` from the settings, or `--database-url`).
2. Builds and signs every request up front, exactly as Twilio signs them
   (`RequestValidator(auth_token).compute_signature(public_url + path, params)`), so the
   client spends no CPU on signing while it is being timed. About 40% of the messages are
   check-ins (`CHECKIN <SLUG> <today's code>`), the rest is chat.
3. Runs `--concurrency` workers over one keep-alive `aiohttp` session. Each worker owns a
   disjoint set of members and sends their messages one at a time, round-robin, so one
   member never has two messages in flight (as with real members). The warm-up requests go
   first and are not counted.
4. Prints exactly one JSON line on stdout:
   `{"messages", "concurrency", "duration_s", "messages_per_s", "p50_ms", "p95_ms",
   "p99_ms", "errors", "status_counts"}`. Latencies are per request of the timed phase, in
   milliseconds, errors included. Progress and diagnostics go to stderr.

A response that is not 2xx, or a connection error or timeout, counts as an error
(`status_counts` has the HTTP statuses, plus `"exception"` for requests with no response).
Exit code: 0 without errors, 1 with errors, 2 on bad usage or setup (no gym, no members,
non-loopback URL). Only loopback targets are accepted (127.0.0.0/8, `localhost`, `::1`);
redirects are never followed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import math
import random
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from twilio.request_validator import RequestValidator

from backend.checkins.codes import checkin_text, daily_code
from backend.models import Gym, Location, Member
from backend.settings import Settings, get_settings

WEBHOOK_PATH = "/webhooks/twilio/whatsapp"
CHAT_BODIES = (
    "hola",
    "Hola!",
    "ayuda",
    "gracias",
    "gracias!!",
    "ya llegué",
    "buenos días",
    "buenas tardes",
    "qué horario tienen?",
    "a qué hora abren mañana?",
    "cuánto cuesta la mensualidad?",
    "ok",
    "👍",
)
PROGRESS_INTERVAL_S = 2.0


class SetupError(Exception):
    """The benchmark cannot start: bad target, missing gym or members."""


@dataclass(frozen=True)
class LocationInfo:
    id: int
    slug: str


@dataclass(frozen=True)
class GymInfo:
    id: int
    timezone: str
    locations: tuple[LocationInfo, ...]


@dataclass(frozen=True)
class MemberContact:
    address: str  # raw WhatsApp address, e.g. "whatsapp:+5215512345678"
    name: str


@dataclass(frozen=True)
class PreparedRequest:
    body: bytes
    headers: dict[str, str]
    kind: str  # "checkin" or "chat"


@dataclass(frozen=True)
class LoadPlan:
    concurrency: int
    warmup: list[list[PreparedRequest]]  # one list per worker
    timed: list[list[PreparedRequest]]
    gym: GymInfo
    day: date  # the gym-local date the check-in codes are for


@dataclass
class PhaseResult:
    latencies_ms: list[float] = field(default_factory=list)
    status_counts: Counter[str] = field(default_factory=Counter)
    exceptions: Counter[str] = field(default_factory=Counter)
    errors: int = 0
    duration_s: float = 0.0


# --- command line ------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="server base URL")
    parser.add_argument("--messages", type=int, default=5000, help="timed requests")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel workers")
    parser.add_argument("--database-url", help="default: DATABASE_URL from the settings")
    parser.add_argument("--gym-number", default="+14155238886", help="the gym's WhatsApp E.164")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests first")
    parser.add_argument("--members", type=int, default=200, help="max members to write as")
    parser.add_argument("--public-url", help="base URL the server signs against (default --url)")
    parser.add_argument("--auth-token", help="default: TWILIO_AUTH_TOKEN from the settings")
    parser.add_argument("--checkin-ratio", type=float, default=0.4, help="share of check-ins")
    parser.add_argument("--seed", type=int, default=0, help="seed of the message mix")
    parser.add_argument("--timeout", type=float, default=30.0, help="per-request timeout, s")
    args = parser.parse_args(argv)
    check_args(parser, args)
    return args


def check_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.messages < 1 or args.concurrency < 1 or args.members < 1:
        parser.error("--messages, --concurrency and --members must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must be 0 or more")
    if args.members < args.concurrency:
        parser.error("--members must be at least --concurrency (one member, one worker)")
    if not 0.0 <= args.checkin_ratio <= 1.0:
        parser.error("--checkin-ratio must be between 0 and 1")
    if args.timeout <= 0:
        parser.error("--timeout must be positive")


def is_loopback_host(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def webhook_url(base_url: str) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH


def target_url(base_url: str) -> str:
    """The URL to load, refused unless it is plain http(s) on a loopback host."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https"):
        raise SetupError(f"--url must be http(s): {base_url!r}")
    if not is_loopback_host(parts.hostname):
        raise SetupError(f"refusing non-loopback target {parts.hostname!r}: load stays local")
    if parts.query or parts.fragment:
        raise SetupError(f"--url must be a base URL without query or fragment: {base_url!r}")
    return webhook_url(base_url)


# --- database -----------------------------------------------------------------------------


async def load_fixture(
    database_url: str, gym_number: str, max_members: int
) -> tuple[GymInfo, list[MemberContact]]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as conn:
            gym_row = (
                await conn.execute(
                    select(Gym.id, Gym.timezone).where(Gym.whatsapp_number == gym_number)
                )
            ).first()
            if gym_row is None:
                raise SetupError(f"no gym with whatsapp_number {gym_number!r}")
            location_rows = (
                await conn.execute(
                    select(Location.id, Location.slug)
                    .where(Location.gym_id == gym_row.id)
                    .order_by(Location.id)
                )
            ).all()
            member_rows = (
                await conn.execute(
                    select(Member.whatsapp_address, Member.name)
                    .where(
                        Member.gym_id == gym_row.id,
                        Member.status == "active",
                        Member.whatsapp_address.is_not(None),
                        Member.whatsapp_address != "",
                    )
                    .order_by(Member.id)
                    .limit(max_members)
                )
            ).all()
    finally:
        await engine.dispose()
    locations = tuple(LocationInfo(id=row.id, slug=row.slug) for row in location_rows)
    gym = GymInfo(id=gym_row.id, timezone=gym_row.timezone, locations=locations)
    return gym, unique_members(member_rows)


def unique_members(rows: Any) -> list[MemberContact]:
    """One contact per address, so that one address is never in two workers."""
    by_address: dict[str, MemberContact] = {}
    for address, name in rows:
        by_address.setdefault(address, MemberContact(address=address, name=name or "Miembro"))
    return list(by_address.values())


# --- request building ---------------------------------------------------------------------


def gym_today(timezone: str) -> date:
    return datetime.now(ZoneInfo(timezone)).date()


def checkin_bodies(secret_key: str, gym: GymInfo, day: date) -> list[str]:
    return [checkin_text(loc.slug, daily_code(secret_key, loc.id, day)) for loc in gym.locations]


def pick_body(rng: random.Random, checkins: list[str], checkin_ratio: float) -> tuple[str, str]:
    if checkins and rng.random() < checkin_ratio:
        return rng.choice(checkins), "checkin"
    return rng.choice(CHAT_BODIES), "chat"


def twilio_params(
    member: MemberContact, body: str, account_sid: str, gym_number: str
) -> dict[str, str]:
    return {
        "MessageSid": f"SM{uuid.uuid4().hex}",
        "AccountSid": account_sid,
        "From": member.address,
        "To": f"whatsapp:{gym_number}",
        "Body": body,
        "NumMedia": "0",
        "WaId": "".join(ch for ch in member.address if ch.isdigit()),
        "ProfileName": member.name,
        "SmsStatus": "received",
        "NumSegments": "1",
        "ApiVersion": "2010-04-01",
        "MessageType": "text",
    }


@dataclass(frozen=True)
class RequestFactory:
    """Signs form posts the way Twilio does, against the URL the server believes it has."""

    validator: RequestValidator
    signed_url: str
    account_sid: str
    gym_number: str
    checkins: list[str]
    checkin_ratio: float
    rng: random.Random

    def build(self, member: MemberContact) -> PreparedRequest:
        body, kind = pick_body(self.rng, self.checkins, self.checkin_ratio)
        params = twilio_params(member, body, self.account_sid, self.gym_number)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": self.validator.compute_signature(self.signed_url, params),
            "User-Agent": "TwilioProxy/1.1 (gogym-bench)",
        }
        return PreparedRequest(body=urlencode(params).encode(), headers=headers, kind=kind)


def split_members(members: list[MemberContact], workers: int) -> list[list[MemberContact]]:
    return [members[w::workers] for w in range(workers)]


def build_plan(
    factory: RequestFactory, groups: list[list[MemberContact]], count: int
) -> list[list[PreparedRequest]]:
    """`count` requests dealt round-robin to the workers, each round-robin over its members."""
    plan: list[list[PreparedRequest]] = [[] for _ in groups]
    for k in range(count):
        worker = k % len(groups)
        own = groups[worker]
        plan[worker].append(factory.build(own[len(plan[worker]) % len(own)]))
    return plan


# --- load ---------------------------------------------------------------------------------


async def send_one(
    session: aiohttp.ClientSession, url: str, request: PreparedRequest, result: PhaseResult
) -> None:
    start = time.perf_counter()
    try:
        async with session.post(
            url, data=request.body, headers=request.headers, allow_redirects=False
        ) as response:
            await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        result.latencies_ms.append((time.perf_counter() - start) * 1000)
        result.status_counts["exception"] += 1
        result.exceptions[type(exc).__name__] += 1
        result.errors += 1
        return
    result.latencies_ms.append((time.perf_counter() - start) * 1000)
    result.status_counts[str(status)] += 1
    if not 200 <= status < 300:
        result.errors += 1


async def run_worker(
    session: aiohttp.ClientSession, url: str, requests: list[PreparedRequest], result: PhaseResult
) -> None:
    for request in requests:
        await send_one(session, url, request, result)


async def report_progress(label: str, result: PhaseResult, total: int) -> None:
    start = time.perf_counter()
    while True:
        await asyncio.sleep(PROGRESS_INTERVAL_S)
        done = len(result.latencies_ms)
        elapsed = time.perf_counter() - start
        log(
            f"{label}: {done}/{total} in {elapsed:.1f}s ({done / elapsed:.0f}/s), "
            f"errors {result.errors}"
        )


async def run_phase(
    session: aiohttp.ClientSession, url: str, plan: list[list[PreparedRequest]], label: str
) -> PhaseResult:
    result = PhaseResult()
    total = sum(len(requests) for requests in plan)
    progress = asyncio.create_task(report_progress(label, result, total))
    start = time.perf_counter()
    try:
        await asyncio.gather(*(run_worker(session, url, requests, result) for requests in plan))
    finally:
        result.duration_s = time.perf_counter() - start
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
    return result


# --- report -------------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def summary(result: PhaseResult, concurrency: int) -> dict[str, Any]:
    latencies = sorted(result.latencies_ms)
    messages = len(latencies)
    return {
        "messages": messages,
        "concurrency": concurrency,
        "duration_s": round(result.duration_s, 3),
        "messages_per_s": round(messages / result.duration_s, 1) if result.duration_s else 0.0,
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "p99_ms": round(percentile(latencies, 99), 1),
        "errors": result.errors,
        "status_counts": dict(sorted(result.status_counts.items())),
    }


def log(message: str) -> None:
    print(f"[webhook_load] {message}", file=sys.stderr, flush=True)


def log_phase(label: str, result: PhaseResult) -> None:
    log(
        f"{label}: {len(result.latencies_ms)} requests in {result.duration_s:.2f}s, "
        f"errors {result.errors}, statuses {dict(result.status_counts)}"
    )
    if result.exceptions:
        log(f"{label}: exceptions {dict(result.exceptions)}")


# --- main ---------------------------------------------------------------------------------


async def prepare(args: argparse.Namespace, settings: Settings) -> LoadPlan:
    database_url = args.database_url or settings.database_url
    gym, members = await load_fixture(database_url, args.gym_number, args.members)
    if not members:
        raise SetupError(f"gym {args.gym_number} has no active member with a WhatsApp address")
    concurrency = min(args.concurrency, len(members))
    if concurrency < args.concurrency:
        log(f"only {len(members)} members: concurrency lowered to {concurrency}")
    if not gym.locations:
        log("the gym has no locations: sending chat only, no check-ins")
    today = gym_today(gym.timezone)
    factory = RequestFactory(
        validator=RequestValidator(args.auth_token or settings.twilio_auth_token),
        signed_url=webhook_url(args.public_url or args.url),
        account_sid=settings.twilio_account_sid,
        gym_number=args.gym_number,
        checkins=checkin_bodies(settings.secret_key, gym, today),
        checkin_ratio=args.checkin_ratio,
        rng=random.Random(args.seed),
    )
    groups = split_members(members, concurrency)
    warmup = build_plan(factory, groups, args.warmup)
    timed = build_plan(factory, groups, args.messages)
    kinds = Counter(request.kind for requests in timed for request in requests)
    log(
        f"gym {gym.id} ({gym.timezone}, {len(gym.locations)} locations), {len(members)} members, "
        f"{concurrency} workers; timed mix {dict(kinds)}, signed for {factory.signed_url}"
    )
    return LoadPlan(concurrency=concurrency, warmup=warmup, timed=timed, gym=gym, day=today)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = target_url(args.url)
    settings = get_settings()
    plan = await prepare(args, settings)
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        if args.warmup:
            log_phase("warm-up", await run_phase(session, url, plan.warmup, "warm-up"))
        result = await run_phase(session, url, plan.timed, "timed")
    log_phase("timed", result)
    if gym_today(plan.gym.timezone) != plan.day:
        log("the gym's date changed during the run: later check-in codes were stale")
    return summary(result, plan.concurrency)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        report = asyncio.run(run(args))
    except SetupError as exc:
        log(f"error: {exc}")
        return 2
    print(json.dumps(report, ensure_ascii=False), flush=True)
    return 1 if report["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
