"""Results printed for a person: plain ``name: value`` lines, lists of records as tables, and a
one-line summary on top of a dry run. ``--json`` prints the same values for machines."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.table import Table

from reelforge.cli.common import console

__all__ = ["dry_run_summary", "print_dry_run", "print_human", "record_table"]

#: A table shows at most this many columns (the first scalar fields of its records).
MAX_COLUMNS = 7
#: Longer values are cut in tables and lines (``--json`` has them whole).
MAX_CELL_CHARS = 60


def print_human(value: Any, *, title: str | None = None) -> None:
    if title:
        console.print(f"[bold]{escape(title)}[/bold]")
    if isinstance(value, dict) and value.get("dry_run") is True:
        print_dry_run(value)
    elif _is_records(value):
        console.print(record_table(value))
    elif isinstance(value, dict):
        _print_mapping(value, indent=0)
    else:
        console.print(_text(value), soft_wrap=True, highlight=False)


def dry_run_summary(plan: dict[str, Any]) -> str:
    """``Dry run (keyframes): 8 jobs on local, $0.00; nothing was called.``"""
    jobs = plan.get("per_job") or []
    providers = sorted({str(job.get("provider")) for job in jobs if job.get("provider")})
    parts = [f"{len(jobs)} job{'s' if len(jobs) != 1 else ''}"]
    if providers:
        parts[0] += f" on {', '.join(providers)}"
    if plan.get("total_usd") is not None:
        parts.append(f"${plan['total_usd']}")
    unpriced = plan.get("unpriced") or []
    if unpriced:
        parts.append(f"{len(unpriced)} without a price")
    affordable = plan.get("affordable")
    if affordable is False:
        limiting = plan.get("limiting_scope")
        parts.append("over budget" + (f" ({limiting})" if limiting else ""))
    elif affordable is True:
        parts.append("within budget")
    degraded = " (a fallback)" if plan.get("degraded") else ""
    return f"Dry run ({plan.get('plan')}{degraded}): {', '.join(parts)}; nothing was called."


def print_dry_run(plan: dict[str, Any]) -> None:
    console.print(dry_run_summary(plan), soft_wrap=True, highlight=False)
    jobs = plan.get("per_job") or []
    if jobs:
        table = Table("job", "provider", "model", "usd", "price from")
        for job in jobs:
            amount = job.get("amount_usd")
            table.add_row(
                _cell(job.get("label") or job.get("capability")),
                _cell(job.get("provider")),
                _cell(job.get("model")),
                _cell(amount if amount is not None else "no price"),
                _cell(job.get("basis")),
            )
        console.print(table)
    console.print("[dim]--json prints the whole plan.[/dim]")


def record_table(records: list[dict[str, Any]], *, title: str | None = None) -> Table:
    columns: list[str] = []
    for record in records:
        for key, item in record.items():
            if key not in columns and _is_scalar(item) and len(columns) < MAX_COLUMNS:
                columns.append(key)
    table = Table(*(_label(column) for column in columns), title=title)
    for record in records:
        table.add_row(*(_cell(record.get(column)) for column in columns))
    return table


def _print_mapping(value: dict[str, Any], *, indent: int) -> None:
    pad = " " * indent
    for key, item in value.items():
        if _is_records(item):
            console.print(f"{pad}{_label(key)}:")
            console.print(record_table(item))
        elif isinstance(item, dict):
            if item:
                console.print(f"{pad}{_label(key)}:")
                _print_mapping(item, indent=indent + 2)
        elif isinstance(item, list):
            shown = ", ".join(_text(entry) for entry in item) or "none"
            console.print(f"{pad}{_label(key)}: {escape(shown)}", soft_wrap=True, highlight=False)
        else:
            console.print(
                f"{pad}{_label(key)}: {escape(_text(item))}", soft_wrap=True, highlight=False
            )


def _is_records(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _label(key: str) -> str:
    return key.replace("_", " ")


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _cell(value: Any) -> str:
    text = _text(value)
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return escape(text)
