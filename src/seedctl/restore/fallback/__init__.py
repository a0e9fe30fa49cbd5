"""The fallback chain: local backup files used when the DVC remote cannot serve a table.

Each `sources.<name>.fallback` entry names a file (or a glob: the newest match by mtime,
ties broken by name) relative to the project root, of one of two kinds:

* ``*.csv.gz`` -- gzip'd CSV with a header row, as ``COPY ... TO ... (FORMAT csv, HEADER)``
  writes it (NULL is an unquoted empty field, the empty string is ``""``);
* ``*.sql.gz`` -- gzip'd plain-SQL data dump of that one table, as ``pg_dump --data-only
  --table=T`` writes it: the default COPY form, or ``--inserts`` / ``--column-inserts``.

Security: nothing in a fallback file is ever executed. seedctl parses the file itself and
feeds the data rows to ``COPY <target> (<cols>) FROM STDIN``. pg_dump's header lines
(comments, blank lines, ``SET ...;``, ``SELECT pg_catalog.set_config(...)``,
``SELECT pg_catalog.setval(...)``, ``\\restrict`` / ``\\unrestrict``) are ignored; any other
statement, any COPY other than ``COPY <table> [(cols)] FROM stdin;``, and any INSERT value
that is not a literal makes the whole file unusable.

Every candidate is validated completely (gzip stream intact, columns, field counts,
row count >= min_rows) before anything touches a database; a rejected candidate is one
line in ``FallbackChoice.tried``, never an exception. Files are streamed: memory is
bounded by the longest row, not the file size.
"""

from seedctl.restore.fallback.locate import FallbackChoice, FallbackFile, find_fallback
from seedctl.restore.fallback.scan import FallbackUnusable

__all__ = ["FallbackChoice", "FallbackFile", "FallbackUnusable", "find_fallback"]
