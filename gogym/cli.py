"""`gogym`: the one entry point (serve, worker, demo, chat, seed, migrate, checkin-code, nlu)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from datetime import date
from pathlib import Path
from typing import Any

import typer
import uvicorn
from arq.worker import run_worker

from backend import migrate as migrations
from backend.checkins.codes import checkin_text, daily_code, whatsapp_link
from backend.db import make_engine, make_sessionmaker, transaction
from backend.gyms.service import gym_by_slug, local_today, locations_of
from backend.integrations.openai_llm import OpenAILanguageModel
from backend.seed import seed_demo, seed_members
from backend.settings import get_settings
from backend.types import utcnow
from dialogs.nlu.assist import AssistedNlu
from dialogs.nlu.classifier import load_or_train, train_and_save
from dialogs.nlu.evaluate import cross_validate, write_confusion_png
from gogym.chat import ChatClient, run_console
from gogym.serving import reuse_port_available, serve_workers
from workers.settings import WorkerSettings

app = typer.Typer(
    help="GoGym: gym management with WhatsApp as the member's front desk.", no_args_is_help=True
)
nlu_app = typer.Typer(help="Train, try and evaluate the NLU.", no_args_is_help=True)
app.add_typer(nlu_app, name="nlu")

DEMO_PHONE = "+5215512345678"
DEMO_NUMBER = "+14155238886"


@app.command()
def serve(
    host: str = "127.0.0.1", port: int = 8000, workers: int = 1, reload: bool = False
) -> None:
    """Run the API (webhooks included)."""
    options: dict[str, Any] = {"host": host, "port": port, "log_level": "info", "access_log": False}
    if workers > 1 and not reload and reuse_port_available():
        raise typer.Exit(serve_workers(uvicorn.Config("gogym.asgi:app", **options), workers))
    uvicorn.run("gogym.asgi:app", workers=workers, reload=reload, **options)


@app.command()
def worker() -> None:
    """Run an arq worker (needs REDIS_URL): outbox sender, crons."""

    if not get_settings().redis_url:
        typer.echo("REDIS_URL is not set: in the embedded mode jobs run inside `gogym serve`.")
        raise typer.Exit(2)
    run_worker(WorkerSettings)  # type: ignore[arg-type]


@app.command()
def migrate(revision: str = "head", downgrade: bool = False) -> None:
    """Apply (or roll back) the database migrations."""
    if downgrade:
        migrations.downgrade(revision=revision if revision not in ("head", "heads") else "base")
    else:
        migrations.upgrade(revision=revision)
    typer.echo(f"database at {revision}")


async def _seed(demo: bool, members: int, rng_seed: int, gym_slug: str) -> None:

    settings = get_settings()
    engine = make_engine(settings)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            if demo:
                result = await seed_demo(session, members=members, rng_seed=rng_seed)
            else:
                gym = await gym_by_slug(session, gym_slug)
                if gym is None:
                    typer.echo(f"no gym '{gym_slug}': run `gogym seed --demo` first")
                    raise typer.Exit(1)
                result = await seed_members(session, gym.id, members=members, rng_seed=rng_seed)
    finally:
        await engine.dispose()
    if demo and result.owner_password is None and not result.members:
        typer.echo(
            f"the demo gym is already here (owner login {result.owner_email}; its password was "
            "printed when it was created). `make clean` then `make demo` starts over."
        )
        return
    typer.echo(
        f"seeded: {result.members} members, {result.check_ins} visits, {result.invoices} invoices"
    )
    if result.owner_password:
        typer.echo(f"owner login: {result.owner_email} / {result.owner_password}")


@app.command()
def seed(
    demo: bool = typer.Option(False, help="Create the demo gym (idempotent)."),
    members: int = typer.Option(300, help="Generated members with 12 months of history."),
    rng_seed: int = typer.Option(7, help="Random seed (same seed, same gym)."),
    gym: str = typer.Option("demo", help="Gym slug to add generated members to."),
) -> None:
    """Create the demo gym and/or generate realistic members with history."""
    asyncio.run(_seed(demo, members, rng_seed, gym))


def _command_name() -> str:
    """How the user can call this CLI again: the path it was started by, if not on PATH."""
    started = sys.argv[0]
    if "/" in started and shutil.which("gogym") != os.path.abspath(started):
        return os.path.relpath(started)
    return "gogym"


@app.command()
def demo(port: int = 8000, members: int = 300) -> None:
    """Migrate the embedded database, seed the demo gym, and serve."""
    migrations.upgrade()
    asyncio.run(_seed(True, members, 7, "demo"))
    me = _command_name()
    typer.echo(
        f"\nGoGym demo is starting on http://127.0.0.1:{port}\n"
        f"Chat as Ana (active Premium member):    {me} chat --phone {DEMO_PHONE}\n"
        f"Chat as Luis (owes an overdue invoice): {me} chat --phone +5215587654321\n"
        f"Chat as a new prospect:                 {me} chat --phone +5215500001111\n"
        f"Today's check-in code for Centro:       {me} checkin-code --location centro\n"
    )
    serve(port=port)


@app.command()
def chat(
    phone: str = typer.Option(DEMO_PHONE, help="Your WhatsApp number (E.164)."),
    to: str = typer.Option(DEMO_NUMBER, help="The gym's WhatsApp number."),
    url: str = typer.Option("http://127.0.0.1:8000", help="Where the server listens."),
    name: str = typer.Option("", help="WhatsApp profile name."),
) -> None:
    """A WhatsApp-like console through the real, signed webhook."""

    run_console(ChatClient(get_settings(), url, phone, to, name))


async def _checkin_code(gym_slug: str, location: str, day: date | None) -> None:
    settings = get_settings()
    engine = make_engine(settings)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            gym = await gym_by_slug(session, gym_slug)
            loc = (
                next((x for x in await locations_of(session, gym.id) if x.slug == location), None)
                if gym
                else None
            )
            if gym is None or loc is None:
                typer.echo(f"unknown gym/location: {gym_slug}/{location}")
                raise typer.Exit(1)
            on = day or local_today(gym, utcnow())
            text = checkin_text(loc.slug, daily_code(settings.secret_key, loc.id, on))
            typer.echo(
                f"{loc.name} · {on.isoformat()}\n{text}\n{whatsapp_link(gym.whatsapp_number, text)}"
            )
    finally:
        await engine.dispose()


@app.command("checkin-code")
def checkin_code(
    location: str = typer.Option(..., help="Location slug, e.g. centro."),
    gym: str = typer.Option("demo", help="Gym slug."),
    day: str = typer.Option("", help="YYYY-MM-DD (default: today in the gym's timezone)."),
) -> None:
    """Print today's check-in text and the wa.me link to put in the front desk's QR."""
    asyncio.run(_checkin_code(gym, location, date.fromisoformat(day) if day else None))


@nlu_app.command("train")
def nlu_train() -> None:
    """Train the intent model and write a versioned artifact."""

    s = get_settings()
    _, path = train_and_save(s.nlu_data_dir, s.nlu_model_dir, s.nlu_confidence_threshold)
    typer.echo(f"wrote {path}")


@nlu_app.command("predict")
def nlu_predict() -> None:
    """stdin: one utterance per line → stdout: one JSON object per line. With
    OPENAI_API_KEY set, low-confidence lines are also asked to the language model."""

    s = get_settings()
    model = load_or_train(s.nlu_data_dir, s.nlu_model_dir, s.nlu_confidence_threshold)
    nlu = AssistedNlu(model, OpenAILanguageModel.from_settings(s), s.openai_timeout_seconds)
    with asyncio.Runner() as runner:
        for line in sys.stdin:
            text = line.rstrip("\r\n")
            result = model.parse(text)
            if nlu.needs_assist(result):
                result = runner.run(nlu.assist(result))
            sys.stdout.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
            sys.stdout.flush()


@nlu_app.command("evaluate")
def nlu_evaluate(
    folds: int = typer.Option(5, help="Stratified k-fold splits."),
    min_f1: float = typer.Option(
        0.0, help="Exit 1 when the overall or any language's macro-F1 is under this."
    ),
    confusion: Path = typer.Option(
        Path("models/nlu-confusion.png"), help="Where to write the confusion-matrix PNG."
    ),
    worst: int = typer.Option(20, help="How many of the most confident errors to list."),
) -> None:
    """Stratified k-fold cross-validation: per-intent P/R/F1, macro-F1 overall and per
    language, a confusion-matrix PNG and the worst errors."""

    report = cross_validate(get_settings().nlu_data_dir, folds)
    typer.echo(report.render(worst=worst))
    typer.echo(f"confusion matrix: {write_confusion_png(report, confusion)}")
    if report.min_macro_f1 < min_f1:
        typer.echo(f"macro-F1 {report.min_macro_f1:.4f} is under --min-f1 {min_f1}", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
