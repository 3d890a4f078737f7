"""Scratch PostgreSQL databases for tests that run the app in other processes."""

import os
import uuid

import dj_database_url
import psycopg

# The server the tests use; the machine's PostgreSQL with trust auth by default.
SERVER_URL = os.environ.get("TASKLIST_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _admin_connection() -> psycopg.Connection:
    config = dj_database_url.parse(SERVER_URL)
    try:
        return psycopg.connect(
            host=config["HOST"],
            port=config["PORT"] or 5432,
            user=config["USER"],
            password=config["PASSWORD"] or None,
            dbname=config["NAME"],
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as error:
        raise RuntimeError(
            f"PostgreSQL is required for the tests and is not reachable at {SERVER_URL}: {error}"
        ) from error


def require_server() -> None:
    _admin_connection().close()


def database_url(name: str) -> str:
    base, _, _ = SERVER_URL.rpartition("/")
    return f"{base}/{name}"


def create_database(prefix: str = "tasklist_it") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with _admin_connection() as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_database(name: str) -> None:
    with _admin_connection() as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
