"""``reelforge webhooks``: a project's outgoing webhooks, their delivery log, redelivery.

- ``reelforge webhooks list PROJECT``; ``subscribe PROJECT URL [--event E ...]``;
  ``delete SUBSCRIPTION_ID``: the project's subscriptions (these read and write the catalog);
- ``reelforge webhooks deliveries SUBSCRIPTION_ID``: its deliveries, each with every attempt;
- ``reelforge webhooks redeliver DELIVERY_ID``: send it again; it reaches the engine as a
  client, so a running ``reelforge serve`` or worker makes the delivery.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from reelforge.cli.common import AsJson, emit, fail_on_error, load_settings

__all__ = ["app"]

app = typer.Typer(
    help="Outgoing webhooks: subscriptions, deliveries, redelivery.", no_args_is_help=True
)


@app.command("list")
def list_subscriptions(
    project: Annotated[str, typer.Argument(metavar="PROJECT")], as_json: AsJson = False
) -> None:
    """The project's webhook subscriptions."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            found = await services.hooks.subscriptions(project)
            return {"subscriptions": [s.to_json() for s in found]}

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("subscribe")
def subscribe(
    project: Annotated[str, typer.Argument(metavar="PROJECT")],
    url: Annotated[str, typer.Argument(metavar="URL")],
    event: Annotated[
        list[str] | None, typer.Option("--event", help="An event to send (repeat; default all)")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Send the project's events to URL, signed (Standard Webhooks)."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            return (await services.hooks.subscribe(project, url, event)).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("delete")
def delete(
    subscription_id: Annotated[str, typer.Argument(metavar="SUBSCRIPTION_ID")],
    as_json: AsJson = False,
) -> None:
    """Delete a subscription (its deliveries go with it)."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            await services.hooks.unsubscribe(subscription_id)
            return {"deleted": subscription_id}

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("deliveries")
def deliveries(
    subscription_id: Annotated[str, typer.Argument(metavar="SUBSCRIPTION_ID")],
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    as_json: AsJson = False,
) -> None:
    """A subscription's deliveries, newest first, each with every attempt."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings()) as services:
            found = await services.hooks.deliveries(subscription_id, limit=limit)
            return {"deliveries": [delivery.to_json() for delivery in found]}

    with fail_on_error():
        emit(asyncio.run(run()), as_json)


@app.command("redeliver")
def redeliver(
    delivery_id: Annotated[str, typer.Argument(metavar="DELIVERY_ID")], as_json: AsJson = False
) -> None:
    """Send a delivery again (by the running server or workers)."""
    import asyncio

    from reelforge.services import open_services

    async def run() -> dict[str, Any]:
        async with open_services(load_settings(), engine="client") as services:
            return (await services.hooks.redeliver(delivery_id)).to_json()

    with fail_on_error():
        emit(asyncio.run(run()), as_json)
