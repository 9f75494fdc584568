"""Scratch PostgreSQL databases for the benchmarks: each run gets its own, named ``kt_bench_<hex>``."""

from __future__ import annotations

import uuid

from kubetune.components.core import redact_url


def create_database(admin_url: str, script: str) -> tuple[str, str]:
    """A new empty database; returns (its name, its URL). An unreachable server is a one-line exit naming
    ``--pg-admin`` with the password masked."""
    import psycopg

    name = f"kt_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        first_line = str(error).splitlines()[0]
        raise SystemExit(
            f"{script}: error: --pg-admin: cannot create a database at {redact_url(admin_url)} ({first_line})"
        ) from None
    return name, admin_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
