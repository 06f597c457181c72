from __future__ import annotations

import reelforge.catalog


def test_public_api() -> None:
    assert sorted(reelforge.catalog.__all__) == [
        "AssetKind",
        "AssetRecord",
        "AssetRepository",
        "AssetSource",
        "Catalog",
        "Clock",
        "JobError",
        "JobEventKind",
        "JobEventRecord",
        "JobRecord",
        "JobRepository",
        "JobStatus",
        "PromptTemplateRecord",
        "PromptTemplateRepository",
        "ProviderConfigRecord",
        "ProviderConfigRepository",
        "RunRecord",
        "RunRepository",
        "RunStatus",
        "create_engine",
        "create_session_factory",
        "current_revision",
        "head_revision",
        "upgrade_database",
    ]
    for name in reelforge.catalog.__all__:
        assert getattr(reelforge.catalog, name) is not None


async def test_building_a_catalog_connects_to_nothing() -> None:
    catalog = reelforge.catalog.Catalog.from_url("postgresql://nobody@127.0.0.1:1/none")
    assert catalog.engine.dialect.name == "postgresql"
    await catalog.dispose()
