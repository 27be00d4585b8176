"""The database's own refusal to change or remove audit events (triggers on both databases)."""

from __future__ import annotations

import sqlalchemy as sa

APPEND_ONLY_MESSAGE = "audit events are append-only"


def install_append_only_guards(connection: sa.Connection) -> None:
    """Make the database itself refuse UPDATE and DELETE (and TRUNCATE) of audit events.

    Idempotent, so that it also restores guards dropped by `drop_append_only_guards`.
    """
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION accord_audit_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION '{APPEND_ONLY_MESSAGE}'; END $$"
        )
        for name, timing in (
            ("audit_event_append_only", "BEFORE UPDATE OR DELETE ON audit_event FOR EACH ROW"),
            ("audit_event_no_truncate", "BEFORE TRUNCATE ON audit_event FOR EACH STATEMENT"),
        ):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name} ON audit_event")
            connection.exec_driver_sql(
                f"CREATE TRIGGER {name} {timing} EXECUTE FUNCTION accord_audit_append_only()"
            )
        connection.exec_driver_sql("REVOKE UPDATE, DELETE, TRUNCATE ON audit_event FROM PUBLIC")
        return
    for verb in ("UPDATE", "DELETE"):
        name = f"audit_event_no_{verb.lower()}"
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        connection.exec_driver_sql(
            f"CREATE TRIGGER {name} BEFORE {verb} ON audit_event "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY_MESSAGE}'); END"
        )


def drop_append_only_guards(connection: sa.Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
        connection.exec_driver_sql("DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_event")
        connection.exec_driver_sql("DROP FUNCTION IF EXISTS accord_audit_append_only()")
        return
    for verb in ("update", "delete"):
        connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS audit_event_no_{verb}")
