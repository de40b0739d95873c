"""The schema comes from the migrations alone, and equals the models."""

from __future__ import annotations

import multiprocessing

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, inspect

from hedgemesh.store.db import current_revision, head_revision, make_engine, migrate
from hedgemesh.store.models import Base


def test_given_migrated_database_then_autogenerate_finds_no_difference_from_models(
    engine: Engine,
) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_given_empty_database_when_migrated_then_at_head_with_every_table(database_url) -> None:
    assert migrate(database_url) == head_revision()
    engine = make_engine(database_url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert set(Base.metadata.tables) <= tables
        assert "alembic_version" in tables
    finally:
        engine.dispose()


def test_given_migrated_database_when_migrated_again_then_nothing_changes(engine: Engine) -> None:
    before = current_revision(engine)
    assert migrate(engine) == before == head_revision()


def test_given_downgrade_to_base_then_upgrade_restores_the_schema(database_url) -> None:
    migrate(database_url)
    migrate_down(database_url)
    engine = make_engine(database_url)
    try:
        assert not set(Base.metadata.tables) & set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert migrate(database_url) == head_revision()


def migrate_down(url: str) -> None:
    from alembic import command

    from hedgemesh.store.db import alembic_config

    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            command.downgrade(alembic_config(connection), "base")
            connection.commit()
    finally:
        engine.dispose()


def test_given_several_processes_migrating_at_once_then_all_reach_head(database_url) -> None:
    context = multiprocessing.get_context("spawn")
    with context.Pool(4) as pool:
        # `migrate` itself runs in each child: a library function, importable by spawn.
        revisions = pool.map(migrate, [database_url] * 4)
    assert revisions == [head_revision()] * 4
