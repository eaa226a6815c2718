"""Composition root: wires backend, dialogs, bot channels and jobs into one ASGI app."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy.orm import configure_mappers

from backend.app import create_app
from backend.auth import endpoints as auth_endpoints
from backend.auth.ratelimit import build_rate_limiter
from backend.billing import endpoints as billing_endpoints
from backend.cfdi import endpoints as cfdi_endpoints
from backend.classes import endpoints as classes_endpoints
from backend.handoff import endpoints as handoff_endpoints
from backend.integrations.mercadopago_sim import PREFIX as SIM_MERCADOPAGO_PREFIX
from backend.integrations.mercadopago_sim import MercadoPagoSimulator
from backend.integrations.openai_llm import OpenAILanguageModel
from backend.integrations.twilio import TwilioSignature
from backend.integrations.twilio_sim import TwilioSimulator
from backend.jobs import ArqJobs, InProcessJobs
from backend.members import endpoints as members_endpoints
from backend.payments import endpoints as payments_endpoints
from backend.payments import webhooks as payment_webhooks
from backend.payments.wiring import build_accounts, build_provider, uses_simulator
from backend.privacy import endpoints as privacy_endpoints
from backend.referrals import endpoints as referrals_endpoints
from backend.runtime import SIM_TWILIO_PREFIX, Runtime, build_runtime
from backend.selfservice import endpoints as selfservice_endpoints
from backend.settings import Settings, get_settings
from bot import whatsapp
from dialogs.engine import DialogueEngine
from dialogs.nlu.classifier import IntentModel, load_or_train
from workers.jobs import FUNCTIONS, ensure_event_partitions, flush_outbox

log = logging.getLogger(__name__)


def load_nlu(settings: Settings) -> IntentModel:
    return load_or_train(
        settings.nlu_data_dir, settings.nlu_model_dir, settings.nlu_confidence_threshold
    )


async def _poll_outbox(jobs: InProcessJobs, every: float) -> None:
    """Embedded mode's stand-in for the arq cron: sweep the outbox for due messages."""
    while True:
        await asyncio.sleep(every)
        try:
            await flush_outbox(jobs.ctx)
        except Exception:
            log.exception("outbox sweep failed")


# Embedded mode's stand-in for the crons in workers/settings.py: (jobs, every seconds).
CLASS_JOBS = ("materialize_class_sessions", "send_class_reminders", "record_class_no_shows")
REFERRAL_JOBS = ("referral_sweep", "expire_referrals")
PERIODIC_JOBS: tuple[tuple[tuple[str, ...], float], ...] = (
    (CLASS_JOBS + REFERRAL_JOBS, 60.0),
    (("sweep_payment_notifications",), 60.0),
    (("sweep_cfdi", "issue_global_cfdis"), 300.0),
    (("reconcile_payments",), 24 * 3600.0),
)
# Let the server start listening first: some jobs call the built-in simulators over HTTP.
PERIODIC_FIRST_DELAY = 3.0


async def _run_periodic(jobs: InProcessJobs, names: tuple[str, ...], every: float) -> None:
    """Embedded mode: run these jobs once the server is up, then every `every` seconds."""
    await asyncio.sleep(PERIODIC_FIRST_DELAY)
    while True:
        for name in names:
            try:
                await FUNCTIONS[name](jobs.ctx)
            except Exception:
                log.exception("%s failed", name)
        await asyncio.sleep(every)


def build_app(settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or get_settings()
    simulator = (
        TwilioSimulator(settings.twilio_account_sid, settings.twilio_auth_token)
        if settings.simulate_providers
        else None
    )
    # Mercado Pago simulated on this server: the payment links and the lookups of the demo.
    public = settings.public_base_url.rstrip("/")
    mp_simulator = (
        MercadoPagoSimulator(
            notification_url=public + "/webhooks/mercadopago",
            public_url=public + SIM_MERCADOPAGO_PREFIX,
        )
        if uses_simulator(settings)
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or build_runtime(settings)
        payment_accounts = build_accounts(settings, rt.sessionmaker)
        if runtime is None:  # a caller-given runtime (tests) keeps its own provider
            rt.payments = build_provider(settings, payment_accounts)
        background: list[asyncio.Task[Any]] = []
        pool = None
        if rt.jobs is None and settings.uses_arq:
            pool = await create_pool(RedisSettings.from_dsn(settings.redis_url))
            rt.use_jobs(ArqJobs(pool))
        elif rt.jobs is None:  # embedded mode; a caller-given queue (tests) is kept as is
            jobs = InProcessJobs(FUNCTIONS, {"runtime": rt, "payment_accounts": payment_accounts})
            rt.use_jobs(jobs)
            await ensure_event_partitions(jobs.ctx)
            schedule = (
                *PERIODIC_JOBS,
                (("run_billing_cycle",), settings.billing_interval_minutes * 60.0),
            )
            background.append(asyncio.create_task(_poll_outbox(jobs, settings.outbox_poll_seconds)))
            background += [
                asyncio.create_task(_run_periodic(jobs, names, every)) for names, every in schedule
            ]
        nlu = await asyncio.to_thread(load_nlu, settings)
        app.state.settings = settings
        app.state.runtime = rt
        app.state.payment_accounts = payment_accounts
        app.state.sessionmaker = rt.sessionmaker
        app.state.twilio_signature = TwilioSignature(settings.twilio_auth_token)
        app.state.dialogue = DialogueEngine(
            rt.sessionmaker,
            settings,
            nlu,
            llm=OpenAILanguageModel.from_settings(settings),
            payments=rt.payments,
        )
        app.state.background = set()
        app.state.simulator = simulator
        app.state.rate_limiter = build_rate_limiter(settings)
        # Mappers are otherwise configured by the first query, inside a member's turn.
        configure_mappers()
        # Everything loaded so far (the NLU model's vocabularies, mappers) lives as long as
        # the process: frozen, the collector no longer walks it. A full collection of it
        # takes ~180 ms here, a pause for every request in flight.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            await app.state.rate_limiter.close()
            for task in background:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if isinstance(rt.jobs, InProcessJobs):
                await rt.jobs.drain()
            if pool is not None:
                await pool.aclose()
            if runtime is None:
                await rt.close()

    def dialogue_of(request: Request) -> whatsapp.Handler:
        engine: DialogueEngine = request.app.state.dialogue
        return engine.handle

    # The REST API for staff tools and integrations: one router per feature.
    api = APIRouter(prefix="/api/v1")
    api.include_router(auth_endpoints.router)
    api.include_router(members_endpoints.router)
    api.include_router(classes_endpoints.router)
    api.include_router(billing_endpoints.router)
    api.include_router(payments_endpoints.router)
    api.include_router(payments_endpoints.payments_router)
    api.include_router(cfdi_endpoints.router)
    api.include_router(referrals_endpoints.router)
    api.include_router(handoff_endpoints.router)
    api.include_router(privacy_endpoints.router)
    api.include_router(selfservice_endpoints.router)

    # Webhooks first: Starlette matches routes in order, and they are the busiest routes.
    routers = [
        whatsapp.router(),
        payment_webhooks.router(),
        api,
        cfdi_endpoints.media_router,
        privacy_endpoints.files_router,
    ]
    if mp_simulator is not None:
        mp_sim = APIRouter(prefix=SIM_MERCADOPAGO_PREFIX)
        mp_sim.include_router(mp_simulator.router())
        routers.append(mp_sim)
    if simulator is not None:
        sim = APIRouter(prefix=SIM_TWILIO_PREFIX)
        sim.include_router(simulator.router())
        routers.append(sim)
    app = create_app(routers, lifespan)
    # The hot path, a member's message, skips FastAPI's middleware and router altogether.
    app.add_fast_route(
        whatsapp.INBOUND_PATH, whatsapp.inbound(dialogue_of), ["POST"], **whatsapp.INBOUND_DOC
    )
    return app
