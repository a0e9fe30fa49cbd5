"""Content checksums computed by PostgreSQL itself, the same way on both ends.

At export the checksum of every table is taken inside the snapshot transaction; after a
restore (and for `seedctl verify --db`) the same query runs on the target. Equal row count
and checksum mean equal content. The row text is built from the snapshot's columns in the
snapshot's order, so a target whose columns sit in another order still compares; every
seedctl session has the same TimeZone, DateStyle and extra_float_digits, so the text is
the same. The per-row hashes are summed, so physical row order does not matter.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class Checksum:
    rows: int
    digest: str  # sum of 64-bit row hashes, as decimal text

    def to_dict(self) -> dict[str, object]:
        return {"rows": self.rows, "digest": self.digest}


def table_checksum(conn: psycopg.Connection, table: sql.Composable, columns: list[str]) -> Checksum:
    """Row count and order-independent content checksum of `columns` of `table`."""
    row = sql.SQL("ROW({cols})::text").format(cols=sql.SQL(", ").join(sql.Identifier(c) for c in columns))
    query = sql.SQL(
        # pg_catalog-qualified: a function of the same name earlier on the target's
        # search_path must not be able to fake a matching checksum.
        "SELECT pg_catalog.count(*), "
        "coalesce(pg_catalog.sum(pg_catalog.hashtextextended({row}, 0)::numeric), 0)::text FROM {table}"
    ).format(row=row, table=table)
    with conn.cursor() as cur:
        cur.execute(query)
        count, digest = cur.fetchone()  # type: ignore[misc]
    return Checksum(int(count), str(digest))
