"""The one write-transaction helper for the cockpit's SQLite files (alert state, audit, forms, accounts)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator


@contextlib.contextmanager
def immediate(con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``, or ``ROLLBACK`` on any exception (the connection is in autocommit mode).

    IMMEDIATE takes the write lock at the start, so two writers queue on the
    busy timeout instead of failing halfway with "database is locked".
    """
    con.execute("BEGIN IMMEDIATE")
    try:
        yield con
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    else:
        con.execute("COMMIT")
