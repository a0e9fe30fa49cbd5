"""backup.single_connection: the snapshot over exactly one database connection at a time.

For a server that serves one session at a time (PGlite, the test TimescaleDB:
tests/func/timescale/) or a role at its connection limit. On plain PostgreSQL here: a role
limited to one connection (CONNECTION LIMIT 1, which PostgreSQL enforces for every role but
a superuser) takes the snapshot only in this mode, and the files are the same bytes as the
usual mode's (checksums on a second connection alongside, rows read by psql)."""

from __future__ import annotations

import json
import uuid

from tests.helpers import FIDELITY_SQL, Project, one_error_line


def _data_files(project: Project) -> dict[str, bytes]:
    data = project.seeds / "data"
    return {str(p.relative_to(data)): p.read_bytes() for p in sorted(data.rglob("*")) if p.is_file()}


def _checksums(project: Project) -> dict[str, tuple[int, str]]:
    tables = json.loads((project.seeds / "schema.json").read_text())["tables"]
    return {name: (t["rows"], t["content_checksum"]) for name, t in tables.items()}


def _set_single(project: Project, single: bool) -> None:
    params = project.params()
    params["backup"]["single_connection"] = single
    project.write_params(params)


def test_one_connection_gives_the_same_bytes_and_works_for_a_role_limited_to_one(sample_project: Project) -> None:
    project = sample_project
    project.sql(FIDELITY_SQL)  # the hard values: NaN, infinities, BC dates, Unicode, ...
    params = project.params()
    params["sources"]["fidelity"] = {"table": "public.fidelity", "min_rows": 1, "max_null_ratio": 1.0}
    project.write_params(params)

    usual = project.seedctl("snapshot", "--no-push")
    assert usual.returncode == 0, usual.stderr
    usual_files, usual_sums = _data_files(project), _checksums(project)

    _set_single(project, True)
    single = project.seedctl("snapshot", "--no-push")
    assert single.returncode == 0, single.stderr
    # Every data file byte for byte, and every table's row count and content checksum.
    assert _data_files(project) == usual_files
    assert _checksums(project) == usual_sums
    assert set(usual_sums) == {"usdcop_m5_ohlcv", "macro_indicators_daily", "trades_history", "fidelity"}

    role = f"one_{uuid.uuid4().hex[:8]}"
    project.sql(f"CREATE ROLE {role} LOGIN PASSWORD 'one-pw' NOSUPERUSER CONNECTION LIMIT 1")
    project.sql(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    project.sql(f"GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}")
    as_role = {"DATABASE_URL": f"postgresql://{role}:one-pw@{project.database_url.split('@', 1)[1]}"}
    try:
        limited = project.seedctl("snapshot", "--no-push", env=as_role)
        assert limited.returncode == 0, limited.stderr
        assert _data_files(project) == usual_files and _checksums(project) == usual_sums

        _set_single(project, False)
        refused = project.seedctl("snapshot", "--no-push", env=as_role)
        assert refused.returncode != 0
        line = one_error_line(refused, "export failed: its second connection", "too many connections")
        assert "set backup.single_connection: true" in line, line
        assert _data_files(project) == usual_files  # nothing was written
    finally:
        project.sql(f"DROP OWNED BY {role} CASCADE; DROP ROLE {role}")
