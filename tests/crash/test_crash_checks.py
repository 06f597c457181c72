"""The crash harness's own parts, without processes: the seeded kill schedule, and the checks
that turn a campaign's figures into broken promises (each must catch what it is for)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from fixtures.crash_checks import Orphans, ProviderFigures, failures, orphans
from fixtures.crash_plan import CampaignConfig, kill_schedule
from reelforge.catalog import Catalog, upgrade_database


def _figures(provider: str, avoidable: bool, **values: object) -> ProviderFigures:
    base: dict[str, object] = {
        "runs": 1,
        "runs_ended": 1,
        "runs_succeeded": 1,
        "jobs": 12,
        "jobs_succeeded": 12,
        "billed": 12,
        "billed_usd": Decimal("0.300"),
        "settled": 12,
        "recorded_usd": Decimal("0.300"),
    }
    figures = ProviderFigures(provider=provider, avoidable=avoidable)
    for name, value in (base | values).items():
        setattr(figures, name, value)
    return figures


def test_the_schedule_comes_from_the_seed_alone() -> None:
    config = CampaignConfig("sqlite", kills=40, seed=7)
    first = kill_schedule(config)
    assert first == kill_schedule(config)
    assert first != kill_schedule(CampaignConfig("sqlite", kills=40, seed=8))
    assert {kill.kind for kill in first} == {"random", "aimed"}
    assert all(0 < kill.delay_s < 3 for kill in first)


def test_a_clean_campaign_breaks_nothing() -> None:
    clean = [_figures("fal", True), _figures("google", False)]
    assert failures(clean, Orphans()) == []


def test_a_generation_billed_twice_where_the_vendor_can_be_asked_is_broken() -> None:
    twice = _figures("fal", True, billed=13, billed_usd=Decimal("0.325"))
    broken = failures([twice], Orphans())
    assert any("1 generations billed twice" in line for line in broken)
    assert any("recorded 12 charges" in line for line in broken)


def test_an_extra_charge_must_be_recorded_where_the_vendor_cannot_be_asked() -> None:
    unrecorded = _figures("google", False, billed=13, billed_usd=Decimal("0.339"))
    broken = failures([unrecorded], Orphans())
    assert "google: 1 extra generations billed, 0 recorded as billed twice" in broken
    assert len(broken) == 2
    recorded = _figures(
        "google",
        False,
        billed=13,
        billed_usd=Decimal("0.339"),
        settled=13,
        recorded_usd=Decimal("0.339"),
        extra_recorded=1,
        extra_recorded_usd=Decimal("0.039"),
    )
    assert failures([recorded], Orphans()) == []


def test_a_possible_charge_never_billed_may_stand_above_the_bill_but_no_further() -> None:
    # A crash before the call left: settled as possibly billed twice, never billed.
    possible = _figures(
        "runway",
        False,
        settled=13,
        recorded_usd=Decimal("3.25"),
        billed_usd=Decimal("3.00"),
        extra_recorded=1,
        extra_recorded_usd=Decimal("0.25"),
    )
    assert failures([possible], Orphans()) == []
    beyond = _figures("runway", False, settled=13, recorded_usd=Decimal("3.25"))
    assert len(failures([beyond], Orphans())) == 1


def test_a_run_that_never_ends_is_broken() -> None:
    stuck = _figures("leonardo", True, runs_ended=0, not_ended=["abc (running)"])
    assert failures([stuck], Orphans()) == ["leonardo: 1 runs never ended: ['abc (running)']"]


async def test_orphans_are_found_in_the_store_and_the_catalog(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'catalog.db'}"
    await upgrade_database(url)
    media = tmp_path / "media"
    (media / "assets").mkdir(parents=True)
    (media / "assets" / "stray.png").write_bytes(b"x")
    (media / "assets" / "half.png#0f.part").write_bytes(b"x")
    (media / "assets" / "cut.png#1").write_bytes(b"x")
    spool = tmp_path / "tmp"
    spool.mkdir()
    (spool / "reelforge-ingest-1.part").write_bytes(b"x")
    async with Catalog.from_url(url) as catalog:
        run = await catalog.runs.create(feature="crash", input={})
        for run_id in (run.id, None):
            lost = await catalog.jobs.create(
                run_id=run_id, provider="fal", model="m", capability="text_to_image", request={}
            )
        found = await orphans(catalog.engine, media, spool)
    assert found.files_without_row == ["assets/stray.png"]
    assert sorted(found.partial_files) == ["assets/cut.png#1", "assets/half.png#0f.part"]
    assert found.spool_files == ["reelforge-ingest-1.part"]
    assert found.jobs_without_run == [lost.id]
    assert list(found.failing()) == ["stored files with no asset row", "jobs with no run"]
