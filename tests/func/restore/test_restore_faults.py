"""Restore killed at chosen points of its one transaction: the target stays exactly as it was.

The target starts non-empty and different from the snapshot: one table is missing (so the
restore creates it, loads it, builds its primary key and indexes, verifies it), one has
fewer rows, one has an edited row, and an unrelated table sits beside them. The restore
runs with --mode replace, so every table is touched.

Each point is made deterministic with a gate: something the restore's own statement must
pass that waits for PostgreSQL advisory lock GATE_KEY, which the test holds. When the
restore's session is seen waiting there (pg_stat_activity), the test kills it:

  load          a BEFORE INSERT row trigger on macro_indicators_daily (the COPY)
  primary-key   an event trigger on ddl_command_start for ALTER TABLE (ADD PRIMARY KEY)
  index         an event trigger on ddl_command_start for CREATE INDEX
  verification  an event trigger on ddl_command_end for CREATE INDEX: the last index is
                built and the verification queries are next. (The checksum query itself
                cannot be gated: seedctl calls pg_catalog-qualified functions only, so a
                shadowing function on the search_path, the old gate, no longer applies.)
"""

from __future__ import annotations

import subprocess

import psycopg
import pytest

from seedctl_dev.devserver import TempPostgres
from seedctl_dev.testing import run_sql
from tests.helpers import (
    GATE_KEY,
    GATES,
    UNGATE,
    Project,
    contents,
    kill_group,
    new_database,
    one_error_line,
    state,
    wait_for_session,
    wait_until_gone,
    without_staging,
)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("point", "kill"),
    [
        ("load", "client"),
        ("primary-key", "client"),
        ("index", "client"),
        ("verification", "client"),
        ("index", "connection"),
    ],
)
def test_restore_killed_at_any_point_leaves_the_target_unchanged(
    snapshotted: Project, diverged_target: str, point: str, kill: str
) -> None:
    """kill=client: SIGKILL to `seedctl restore` (and anything it started).
    kill=connection: the server ends the restore's session (pg_terminate_backend), the client
    lives on and must say so in one line."""
    url = diverged_target
    before = state(url)
    assert "public.usdcop_m5_ohlcv" not in before["contents"]

    kill_restore_at(snapshotted, url, point, kill)

    after = without_staging(state(url))  # a killed --jobs run may leave its staging schema
    # Identity sequences are compared in test_killed_restore_leaves_identity_sequences_alone.
    assert after.pop("sequences") is not None and before.pop("sequences") is not None
    assert after == before

    # The next run, gate gone, restores the snapshot exactly and keeps the unrelated table
    # (and drops a staging schema left behind: contents() lists every schema's tables).
    again = snapshotted.seedctl("restore", "--mode", "replace", env={"DATABASE_URL": url})
    assert again.returncode == 0, again.stderr
    restored, source = contents(url), contents(snapshotted.database_url)
    assert restored.pop("public.keepme") == ['(1,"not in any snapshot")']
    assert restored == source


def kill_restore_at(project: Project, url: str, point: str, kill: str) -> None:
    """Run `seedctl restore --mode replace` into url, kill it at `point`, wait for the rollback,
    remove the gate again."""
    dbname = url.rsplit("/", 1)[1]
    gate_sql, query = GATES[point]
    run_sql(url, gate_sql.format(key=GATE_KEY, db=f'"{dbname}"'))
    with psycopg.connect(url, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        proc = project.spawn("restore", "--mode", "replace", env={"DATABASE_URL": url})
        try:
            wait_for_session(url, query, waiting_on="advisory", proc=proc)
            if kill == "client":
                kill_group(proc)
            else:
                gate.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'seedctl' AND datname = current_database()"
                )
                out, err = proc.communicate(timeout=60)
                result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
                line = one_error_line(result, "rolled back")
                assert result.returncode == 3, line
        finally:
            if proc.poll() is None:
                kill_group(proc)
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
    wait_until_gone(url)
    run_sql(url, UNGATE.format(db=f'"{dbname}"'))


def test_killed_restore_leaves_identity_sequences_alone(snapshotted: Project, diverged_target: str) -> None:
    """The target's trades_history has ids beyond the snapshot's. A restore killed later in the
    transaction (building usdcop_m5_ohlcv's index; trades_history comes before it) must leave
    the identity sequence where it was, or the next INSERT collides with an existing row."""
    url = diverged_target
    run_sql(
        url,
        """
        INSERT INTO trades_history (id, opened_at, side, entry_price, quantity)
            SELECT g, now(), 'long', 4000, 1 FROM generate_series(1000, 1010) g;
        SELECT setval(pg_get_serial_sequence('trades_history', 'id'), 1010);
    """,
    )
    before = state(url)

    kill_restore_at(snapshotted, url, "index", "client")

    assert without_staging(state(url))["sequences"] == before["sequences"]
    new_id = run_sql(
        url,
        "INSERT INTO trades_history (opened_at, side, entry_price, quantity) "
        "VALUES (now(), 'short', 4000, 1) RETURNING id",
    )[0][0]
    assert new_id == 1011


# A table of about 100 MB of COPY data, more than the socket buffers between client and
# server hold (Linux lets a TCP receive buffer grow to tcp_rmem's maximum, 32 MB by
# default), so that a COPY held at its first row leaves the client still sending.
BULK = """
    CREATE TABLE bulk (id int PRIMARY KEY, body text NOT NULL);
    INSERT INTO bulk SELECT g, repeat(md5(g::text), 1500) FROM generate_series(1, 2000) g;
"""
BULK_GATE = """
    CREATE TABLE bulk (id int PRIMARY KEY, body text NOT NULL);
    CREATE FUNCTION faults_gate_row() RETURNS trigger LANGUAGE plpgsql AS
        $$ BEGIN PERFORM pg_advisory_xact_lock_shared({key}); RETURN NEW; END $$;
    CREATE TRIGGER faults_gate BEFORE INSERT ON bulk FOR EACH ROW EXECUTE FUNCTION faults_gate_row();
"""


def test_connection_lost_while_the_copy_streams_is_one_line(sample_project: Project, pg_server: TempPostgres) -> None:
    """The server ends the restore's session (pg_terminate_backend) while the client is still
    sending COPY data: one `seedctl: error:` line, exit 3, and nothing else on stderr (psycopg
    used to log `error ignored terminating <psycopg.Copy [BAD] ...>` before it)."""
    sample_project.sql(BULK)
    params = sample_project.params()
    params["sources"]["bulk"] = {"table": "public.bulk", "min_rows": 1}
    sample_project.write_params(params)
    snapped = sample_project.seedctl("snapshot", "--no-push")
    assert snapped.returncode == 0, snapped.stderr
    target = new_database(pg_server)
    run_sql(target, BULK_GATE.format(key=GATE_KEY))

    with psycopg.connect(target, autocommit=True) as gate:
        gate.execute("SELECT pg_advisory_lock(%s)", (GATE_KEY,))
        proc = sample_project.spawn("restore", "--table", "bulk", env={"DATABASE_URL": target})
        try:
            # The COPY waits at its first row; the client fills the socket and blocks.
            wait_for_session(target, "COPY%bulk%", waiting_on="advisory", proc=proc)
            gate.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE application_name = 'seedctl' AND datname = current_database()"
            )
            out, err = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                kill_group(proc)
            gate.execute("SELECT pg_advisory_unlock(%s)", (GATE_KEY,))
    result = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    # "sending copy data": the connection was lost while the client was still streaming.
    line = one_error_line(result, "rolled back", "sending copy data failed")
    assert result.returncode == 3, line
    assert err.splitlines() == [line], err
    assert run_sql(target, "SELECT count(*) FROM bulk") == [(0,)]
