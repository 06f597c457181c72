"""``reelforge cutscene``: trigger cutscenes and location visuals, classify turns, settings.

``trigger`` and ``location`` start the job engine in this process (embedded mode: stop
``reelforge serve`` first, or call ``POST /api/media/cutscenes`` on it instead), show the
session's announcements as they come, and print the media records once the still and the clip
are done (interrupted, the work goes on at the engine's next start on this data directory).
``--dry-run`` prices the plan without any provider call. ``settings`` turns media on or off for
a campaign and sets its budgets and models; ``gallery`` and ``cost`` read.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from reelforge.cli.common import AsJson, console, emit, fail_on_error, load_settings, print_json
from reelforge.features.cutscenes.vocabulary import CutsceneType, NarrativeWeight, Quality

if TYPE_CHECKING:
    from pydantic import BaseModel

    from reelforge.engine.config import EngineRole
    from reelforge.services import Services

__all__ = ["app"]

M = TypeVar("M", bound="BaseModel")

app = typer.Typer(help="Cutscenes: a story moment as a still, then a clip.", no_args_is_help=True)

Campaign = Annotated[str, typer.Option("--campaign", help="Campaign id")]
Session = Annotated[str, typer.Option("--session", help="Game session id")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="Plan and price only; no provider call")]


@app.command("trigger")
def trigger(
    campaign: Campaign,
    session: Session,
    image_prompt: Annotated[str, typer.Option(help="What the still shows")],
    cutscene_type: Annotated[
        CutsceneType | None, typer.Option("--type", help="Unset: classify the signals")
    ] = None,
    turn: Annotated[int | None, typer.Option(help="The turn number")] = None,
    motion_prompt: Annotated[str | None, typer.Option(help="How the clip moves")] = None,
    character: Annotated[list[str] | None, typer.Option(help="A character (repeatable)")] = None,
    mood: Annotated[str | None, typer.Option(help="Mood / lighting")] = None,
    narrative: Annotated[str | None, typer.Option(help="The turn's text")] = None,
    sakuga: Annotated[bool, typer.Option(help="Signal: a sakuga moment")] = False,
    new_npc: Annotated[str | None, typer.Option(help="Signal: a new character")] = None,
    weight: Annotated[NarrativeWeight, typer.Option(help="Signal: narrative weight")] = "standard",
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Make a cutscene (still, then clip) and wait for it."""
    from reelforge.features.cutscenes.schemas import NewEntity, TriggerCutsceneRequest, TurnSignals

    signals = None
    if cutscene_type is None:
        signals = TurnSignals(
            use_sakuga=sakuga,
            narrative_weight=weight,
            new_entities=[NewEntity(kind="npc", name=new_npc)] if new_npc else [],
        )
    with fail_on_error():
        request = _valid(
            TriggerCutsceneRequest,
            campaign_id=campaign,
            session_id=session,
            turn_number=turn,
            cutscene_type=cutscene_type,
            image_prompt=image_prompt,
            motion_prompt=motion_prompt,
            characters=character or [],
            mood=mood,
            narrative=narrative,
            signals=signals,
            dry_run=dry_run,
        )
        _run_trigger(lambda services: services.cutscenes.trigger(request), dry_run, as_json)


@app.command("location")
def location(
    name: Annotated[str, typer.Argument(help="The location's name")],
    campaign: Campaign,
    session: Session,
    description: Annotated[str | None, typer.Option(help="What it looks like")] = None,
    mood: Annotated[str | None, typer.Option(help="Mood / lighting")] = None,
    turn: Annotated[int | None, typer.Option(help="The turn number")] = None,
    dry_run: DryRun = False,
    as_json: AsJson = False,
) -> None:
    """Make a still of a named location and wait for it."""
    from reelforge.features.cutscenes.schemas import LocationVisualRequest

    with fail_on_error():
        request = _valid(
            LocationVisualRequest,
            campaign_id=campaign,
            session_id=session,
            location_name=name,
            description=description,
            mood=mood,
            turn_number=turn,
            dry_run=dry_run,
        )
        _run_trigger(
            lambda services: services.cutscenes.generate_location_visual(request), dry_run, as_json
        )


@app.command("classify")
def classify(
    sakuga: Annotated[bool, typer.Option(help="A sakuga / big-action moment")] = False,
    weight: Annotated[NarrativeWeight, typer.Option(help="Narrative weight")] = "standard",
    new_npc: Annotated[str | None, typer.Option(help="A new character's name")] = None,
    new_location: Annotated[str | None, typer.Option(help="A new location's name")] = None,
    milestone: Annotated[str | None, typer.Option(help="An emotional milestone")] = None,
    power: Annotated[str | None, typer.Option(help="A power used for the first time")] = None,
    reveal: Annotated[str | None, typer.Option(help="A revelation")] = None,
    arc: Annotated[str | None, typer.Option(help="The arc the story moves into")] = None,
    as_json: AsJson = False,
) -> None:
    """Propose a cutscene type for a turn's signals (no service needed)."""
    from reelforge.features.cutscenes.classifier import classify as classify_signals
    from reelforge.features.cutscenes.schemas import NewEntity, TurnSignals

    entities = [NewEntity(kind="npc", name=new_npc)] if new_npc else []
    if new_location:
        entities.append(NewEntity(kind="location", name=new_location))
    signals = TurnSignals(
        use_sakuga=sakuga,
        narrative_weight=weight,
        new_entities=entities,
        emotional_milestone=milestone,
        first_power_use=power,
        reveal=reveal,
        arc_change=arc,
    )
    emit(classify_signals(signals).model_dump(mode="json"), as_json)


@app.command("settings")
def settings(
    campaign: Campaign,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Media on/off")] = None,
    session_budget: Annotated[str | None, typer.Option(help="USD per session")] = None,
    campaign_budget: Annotated[str | None, typer.Option(help="USD per campaign")] = None,
    image_provider: Annotated[str | None, typer.Option(help="Provider of stills")] = None,
    image_model: Annotated[str | None, typer.Option(help="Model of stills")] = None,
    video_provider: Annotated[str | None, typer.Option(help="Provider of clips")] = None,
    video_model: Annotated[str | None, typer.Option(help="Model of clips")] = None,
    clip_seconds: Annotated[float | None, typer.Option(help="Clip length")] = None,
    quality: Annotated[Quality | None, typer.Option(help="draft, standard or high")] = None,
    as_json: AsJson = False,
) -> None:
    """Show a campaign's media settings, changing the ones given first."""
    import asyncio

    from reelforge.features.cutscenes.schemas import MediaSettingsUpdate
    from reelforge.services import open_services

    given: dict[str, Any] = {
        "enabled": enable,
        "budget_per_session_usd": Decimal(session_budget) if session_budget else None,
        "budget_per_campaign_usd": Decimal(campaign_budget) if campaign_budget else None,
        "image_provider": image_provider,
        "image_model": image_model,
        "video_provider": video_provider,
        "video_model": video_model,
        "clip_duration_s": clip_seconds,
        "quality": quality,
    }
    with fail_on_error():
        update = _valid(MediaSettingsUpdate, **{k: v for k, v in given.items() if v is not None})

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            if update.model_fields_set:
                changed = await services.cutscenes.update_settings(campaign, update)
            else:
                changed = await services.cutscenes.settings(campaign)
            return {"campaign_id": campaign, **changed.model_dump(mode="json")}

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("gallery")
def gallery(
    campaign: Campaign,
    session: Annotated[str | None, typer.Option("--session", help="Game session id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """The campaign's (or session's) media, newest first."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> list[dict[str, Any]]:
        async with open_services(load_settings()) as services:
            return await services.cutscenes.gallery(campaign, session, limit=limit)

    with fail_on_error():
        media = asyncio.run(run())
    if as_json:
        print_json({"media": media})
    else:
        _print_media(media)


@app.command("cost")
def cost(
    campaign: Campaign,
    session: Annotated[str | None, typer.Option("--session", help="Game session id")] = None,
    as_json: AsJson = False,
) -> None:
    """What the media cost so far, and the budget left."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            return await services.cutscenes.cost(campaign, session)

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


def _run_trigger(start: Any, dry_run: bool, as_json: bool) -> None:
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        role: EngineRole | None = None if dry_run else "api"
        async with open_services(load_settings(), engine=role) as services:
            answer: dict[str, Any] = await start(services)
            if not answer.get("media_pending"):
                return answer
            await _watch(services, answer, quiet=as_json)
            answer["media"] = [await _with_file(services, m) for m in answer["asset_ids"]]
            return answer

    answer = asyncio.run(run())
    if as_json or dry_run or not answer.get("media"):
        emit(answer, as_json)
        return
    console.print(f"cutscene [bold]{answer['cutscene_id']}[/bold] ({answer['plan']})")
    if answer.get("clip_skipped"):
        console.print(f"[yellow]clip skipped:[/yellow] {answer['clip_skipped']}")
    _print_media(answer["media"])


async def _watch(services: Services, answer: dict[str, Any], *, quiet: bool) -> None:
    """Print the cutscene's announcements until its background work is done."""
    import asyncio

    cutscenes = services.cutscenes
    campaign, session = answer["campaign_id"], answer["session_id"]
    after = 0
    while True:
        # Read before the events: the last announcements come before the stage is done.
        done = await cutscenes.done(answer["cutscene_id"])
        for event in await cutscenes.events(campaign, session, after):
            after = event.id
            if event.cutscene_id == answer["cutscene_id"] and not quiet:
                note = event.payload.get("reason") or event.payload.get("url") or ""
                console.print(f"  {event.payload.get('asset_type', '')}: {event.kind} {note}")
        if done:
            return
        await asyncio.sleep(0.2)


async def _with_file(services: Services, media_id: str) -> dict[str, Any]:
    """A media record with the public URL of its stored file."""
    media = await services.cutscenes.media(media_id)
    if media["asset_id"] is not None:
        asset = await services.assets.get(media["asset_id"])
        media["file_url"] = services.assets.public_url(asset.key)
    return media


def _valid(model: type[M], **values: Any) -> M:
    from reelforge.features.cutscenes.service import parse_model

    return parse_model(model, values)


def _print_media(media: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("id", "type", "cutscene", "turn", "status", "cost", "url or error")
    for item in media:
        error = item.get("error") or {}
        table.add_row(
            item["id"],
            item["asset_type"],
            item.get("location_name") or item["cutscene_type"],
            "" if item["turn_number"] is None else str(item["turn_number"]),
            item["status"],
            item["cost_usd"] or "",
            item.get("file_url") or item["url"] or error.get("message", ""),
        )
    console.print(table)
