"""``reelforge characters``: characters and their reference, 360° and scene images.

The same operations as ``/v1/characters`` and the MCP tools, printed for a person, or with
``--json`` as the API's JSON. Generating
(``reference``, ``portfolio``, ``scene``) starts the job engine in this process, so it runs
where no ``reelforge serve`` holds the same embedded data directory (use the API there);
``--dry-run`` prints the plan and its cost without calling anyone.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from reelforge.cli.common import AsJson, emit, fail_on_error, load_settings
from reelforge.errors import InvalidInput

if TYPE_CHECKING:
    from reelforge.features.characters.service import CharacterService

__all__ = ["app"]

T = TypeVar("T")

app = typer.Typer(
    help="Characters and their images: reference, 360° set, scenes.", no_args_is_help=True
)

VisualOption = Annotated[
    list[str] | None,
    typer.Option(
        "--visual",
        help="A visual fact as KEY=VALUE (role, age, gender, appearance, hair, eyes, clothing, "
        "distinguishingFeatures, artStyle); repeat for several; KEY= clears one",
    ),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Print the plan and its cost; generate nothing")
]


def _visual(pairs: list[str] | None) -> dict[str, str | None]:
    facts: dict[str, str | None] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--visual takes KEY=VALUE; got {pair!r}.")
        facts[key.strip()] = value.strip() or None
    return facts


def _run(work: Callable[[CharacterService], Awaitable[T]], *, engine: bool = False) -> T:
    """``work(services.characters)`` over services opened from settings (with the engine if
    asked)."""
    import asyncio

    from reelforge.services import open_services

    settings = load_settings()

    async def run() -> T:
        async with open_services(settings, engine="api" if engine else None) as services:
            return await work(services.characters)

    with fail_on_error():
        return asyncio.run(run())


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="The character's name")],
    project: Annotated[str | None, typer.Option(help="Project id")] = None,
    description: Annotated[str, typer.Option(help="Who the character is")] = "",
    visual: VisualOption = None,
    library_id: Annotated[str | None, typer.Option(help="Character Library id")] = None,
    as_json: AsJson = False,
) -> None:
    """Create a character."""
    from reelforge.features.characters.schemas import CharacterCreate, parsed

    with fail_on_error():
        body = parsed(
            CharacterCreate,
            {
                "name": name,
                "projectId": project,
                "description": description,
                "visual": _visual(visual),
                "libraryDbId": library_id,
            },
        )
    emit(_run(lambda service: service.create(body)), as_json)


@app.command("list")
def list_characters(
    project: Annotated[str | None, typer.Option(help="Only this project's")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """Characters, newest first."""
    emit(_run(lambda service: service.list(project_id=project, limit=limit)), as_json)


@app.command("show")
def show(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: AsJson = False,
) -> None:
    """A character and its stored facts."""
    emit(_run(lambda service: service.get(character_id)), as_json)


@app.command("update")
def update(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    name: Annotated[str | None, typer.Option()] = None,
    project: Annotated[str | None, typer.Option()] = None,
    description: Annotated[str | None, typer.Option()] = None,
    visual: VisualOption = None,
    library_id: Annotated[str | None, typer.Option()] = None,
    as_json: AsJson = False,
) -> None:
    """Change the fields given (visual facts merge; KEY= clears one)."""
    from reelforge.features.characters.schemas import CharacterUpdate, parsed

    given = {
        "name": name,
        "projectId": project,
        "description": description,
        "libraryDbId": library_id,
    }
    changes: dict[str, Any] = {k: v for k, v in given.items() if v is not None}
    if visual:
        changes["visual"] = _visual(visual)
    with fail_on_error():
        body = parsed(CharacterUpdate, changes)
    emit(_run(lambda service: service.update(character_id, body)), as_json)


@app.command("prompt")
def prompt(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: AsJson = False,
) -> None:
    """The suggested master reference prompt (from stored facts only)."""

    async def work(service: CharacterService) -> dict[str, Any]:
        return {"success": True, "prompt": await service.suggest_prompt(character_id)}

    emit(_run(work), as_json)


@app.command("reference")
def reference(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    prompt: Annotated[str | None, typer.Option(help="Default: the suggested prompt")] = None,
    dry_run: DryRunOption = False,
    as_json: AsJson = False,
) -> None:
    """Generate a master reference image."""
    emit(
        _run(
            lambda service: service.generate_reference(character_id, prompt, dry_run=dry_run),
            engine=not dry_run,
        ),
        as_json,
    )


@app.command("portfolio")
def portfolio(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    reference_image: Annotated[
        str | None, typer.Option("--reference", help="Reference image id (default: the newest)")
    ] = None,
    dry_run: DryRunOption = False,
    as_json: AsJson = False,
) -> None:
    """Generate the 360° set from a reference image."""
    emit(
        _run(
            lambda service: service.generate_portfolio(
                character_id, reference_image, dry_run=dry_run
            ),
            engine=not dry_run,
        ),
        as_json,
    )


@app.command("scene")
def scene(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    context: Annotated[str, typer.Option("--context", help="The scene, in words")],
    dry_run: DryRunOption = False,
    as_json: AsJson = False,
) -> None:
    """Generate an image of the character in a scene."""
    emit(
        _run(
            lambda service: service.generate_scene(character_id, context, dry_run=dry_run),
            engine=not dry_run,
        ),
        as_json,
    )


@app.command("images")
def images(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    as_json: AsJson = False,
) -> None:
    """The character's images, newest first."""
    emit(_run(lambda service: service.list_images(character_id)), as_json)


@app.command("delete")
def delete(
    character_id: Annotated[str, typer.Argument(metavar="ID")],
    image_id: Annotated[str, typer.Argument(metavar="IMAGE_ID")],
    as_json: AsJson = False,
) -> None:
    """Delete an image (record, file, thumbnail; a library reference remotely too)."""
    emit(_run(lambda service: service.delete_image(character_id, image_id)), as_json)
