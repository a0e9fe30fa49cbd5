"""The SQL-dump reader: a gzip'd ``pg_dump --data-only --table=T`` of one table (COPY form, or
``--inserts`` / ``--column-inserts``), parsed and never executed; the rows come out in COPY text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from seedctl.pg.catalog import TableSchema
from seedctl.restore.fallback.scan import FallbackUnusable, check_columns, numbered_lines

# --- sql.gz: tokenizer --------------------------------------------------------------------

# Linear-time patterns (unrolled loops, no nested quantifiers on the same characters).
_TOKEN_SCS_ON = re.compile(
    r"""
    \s*(?:
      (?P<comment>--[^\n]*)
    | (?P<estr>[eE]'[^'\\]*(?:(?:\\.|'')[^'\\]*)*')
    | (?P<str>'[^']*(?:''[^']*)*')
    | (?P<qid>"[^"]*(?:""[^"]*)*")
    | (?P<num>(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
    | (?P<id>[A-Za-z_\x80-\U0010ffff][A-Za-z0-9_$\x80-\U0010ffff]*)
    | (?P<op>::|[(),;.\[\]+\-=])
    )""",
    re.VERBOSE | re.DOTALL,
)
# standard_conforming_strings = off: '...' strings take backslash escapes too.
_TOKEN_SCS_OFF = re.compile(
    _TOKEN_SCS_ON.pattern.replace(r"(?P<str>'[^']*(?:''[^']*)*')", r"(?P<str>'[^'\\]*(?:(?:\\.|'')[^'\\]*)*')"),
    re.VERBOSE | re.DOTALL,
)
_OPENERS = ("'", '"', "e'", "E'")
# Statement keywords a message may name (anything else in a rejected file is not repeated).
_KEYWORDS = frozenset(
    {
        "alter",
        "analyze",
        "begin",
        "call",
        "comment",
        "commit",
        "copy",
        "create",
        "delete",
        "do",
        "drop",
        "grant",
        "insert",
        "lock",
        "reindex",
        "revoke",
        "rollback",
        "select",
        "set",
        "truncate",
        "update",
        "vacuum",
        "with",
    }
)
_WS = re.compile(r"\s*")


@dataclass(slots=True)
class _Tok:
    kind: str  # str, estr, qid, num, id, op, other
    text: str

    def word(self) -> str | None:
        """An unquoted identifier / keyword, lower-cased."""
        return self.text.lower() if self.kind == "id" else None


class _Statement:
    def __init__(self, line: int, tokens: list[_Tok], text: str) -> None:
        self.line, self.tokens, self.text = line, tokens, text

    def snippet(self) -> str:
        """What kind of statement this is, never its text: a rejected file's content must not
        reach a terminal or a log (it may hold anything, secrets included)."""
        head = self.tokens[0].word() if self.tokens else None
        return f"a {head.upper()} statement" if head in _KEYWORDS else "an unrecognised statement"


def _tokenize(text: str, pos: int, pattern: re.Pattern[str]) -> tuple[list[_Tok], int, bool]:
    """Tokens of text[pos:] up to and including the first top-level ';'.

    Returns (tokens, end position, complete). complete=False means the statement (or a
    quoted token) continues on the next line.
    """
    toks: list[_Tok] = []
    n = len(text)
    while pos < n:
        m = pattern.match(text, pos)
        if m is None:
            space = _WS.match(text, pos)
            assert space is not None  # the pattern is a `*`: it matches anywhere, if only nothing
            pos = space.end()
            if pos >= n:
                break
            if text.startswith(_OPENERS, pos):
                return toks, pos, False  # quote not closed yet: need more lines
            toks.append(_Tok("other", text[pos]))
            pos += 1
            continue
        kind = m.lastgroup or ""
        end = m.end()
        value = m.group(kind)
        if kind == "id" and value in ("e", "E") and text.startswith("'", end):
            return toks, m.start(kind), False  # E'... not closed yet: need more lines
        if kind != "comment":
            toks.append(_Tok(kind, value))
            if value == ";" and kind == "op":
                return toks, end, True
        pos = end
    return toks, pos, False


# --- sql.gz: literals ---------------------------------------------------------------------

_E_ESCAPE = re.compile(r"\\(x[0-9A-Fa-f]{1,2}|[0-7]{1,3}|u[0-9A-Fa-f]{4}|U[0-9A-Fa-f]{8}|.)|''", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _decode_escape_string(body: str) -> str:
    """Contents of E'...' (without quotes) -> the string; octal/hex escapes are bytes."""
    out = bytearray()
    pos = 0
    for m in _E_ESCAPE.finditer(body):
        out += body[pos : m.start()].encode("utf-8")
        pos = m.end()
        esc = m.group(1)
        if esc is None:
            out += b"'"
        elif esc[0] == "x":
            out.append(int(esc[1:], 16))
        elif esc[0] in "01234567":
            out.append(int(esc, 8) & 0xFF)
        elif esc[0] in "uU" and len(esc) > 1:
            out += chr(int(esc[1:], 16)).encode("utf-8")
        else:
            out += _SIMPLE_ESCAPES.get(esc, esc).encode("utf-8")
    out += body[pos:].encode("utf-8")
    if b"\x00" in out:
        raise ValueError("a zero byte")
    return out.decode("utf-8")


_COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: str | None) -> str:
    return "\\N" if value is None else value.translate(_COPY_TEXT_ESCAPES)


# --- sql.gz: the scanner ------------------------------------------------------------------


class SqlScan:
    """One pass over a sql.gz: statements parsed, never executed; rows() in COPY text."""

    def __init__(self, path: Path, where: str, table: TableSchema) -> None:
        self.path, self.where, self.table = path, where, table
        self.columns: list[str] | None = None
        self.count = 0
        self._scs = True  # standard_conforming_strings
        self._pending: list[list[str | None]] = []

    # errors
    def _fail(self, line: int, reason: str) -> FallbackUnusable:
        return FallbackUnusable(f"{self.where} line {line}: {reason}")

    def _foreign(self, st: _Statement) -> FallbackUnusable:
        return self._fail(
            st.line,
            f"statement other than COPY/INSERT into {self.table.qualified} ({st.snippet()})",
        )

    def rows(self) -> Iterator[bytes]:
        lines = numbered_lines(self.path)
        buf = ""
        start = 0
        toks: list[_Tok] = []
        scan_pos = 0
        for lineno, raw in lines:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise self._fail(lineno, "not valid UTF-8") from None
            if not buf:
                stripped = text.strip()
                if not stripped or stripped.startswith("--"):
                    continue
                if stripped.startswith("\\"):
                    self._meta_command(lineno, stripped)
                    continue
                start = lineno
            buf += text
            while True:
                pattern = _TOKEN_SCS_ON if self._scs else _TOKEN_SCS_OFF
                more, scan_pos, complete = _tokenize(buf, scan_pos, pattern)
                toks += more
                if not complete:
                    break
                st = _Statement(start, toks, buf[:scan_pos])
                rest = buf[scan_pos:]
                toks, buf, scan_pos = [], "", 0
                kind = self._statement(st)
                if kind == "insert":
                    for row in self._pending:
                        self.count += 1
                        yield ("\t".join(map(_copy_text, row)) + "\n").encode("utf-8")
                    self._pending = []
                if kind == "copy":
                    if rest.strip():
                        raise self._fail(lineno, "text after COPY ... FROM stdin; on the same line")
                    yield from self._copy_data(lines, st)
                    break
                if rest.strip() and not rest.strip().startswith("--"):
                    buf, start = rest, lineno
                    continue
                break
        if buf.strip():
            raise self._fail(start, "statement not terminated by ';' at end of file")

    def _meta_command(self, lineno: int, stripped: str) -> None:
        # pg_dump >= 17.6/16.10/15.14 brackets plain dumps with \restrict / \unrestrict.
        if re.fullmatch(r"\\(?:un)?restrict(?:\s+[A-Za-z0-9]+)?", stripped):
            return
        raise self._fail(lineno, "psql meta-command (a line starting with a backslash) not allowed")

    # -- statements
    def _statement(self, st: _Statement) -> str:
        """Check one statement: "copy" (a data block follows), "insert" (rows in
        self._pending) or "" (ignorable header statement)."""
        toks = st.tokens
        head = toks[0].word() if toks else None
        # COPY and INSERT are parsed strictly (a stray symbol never fits their grammar);
        # the ignorable header statements must consist of ordinary tokens only.
        if head not in ("copy", "insert") and any(t.kind == "other" for t in toks):
            raise self._foreign(st)
        if head == "set":
            self._set(st)
            return ""
        if head == "select":
            self._select(st)
            return ""
        if head == "copy":
            self._copy(st)
            return "copy"
        if head == "insert":
            self._insert(st)
            return "insert"
        raise self._foreign(st)

    def _set(self, st: _Statement) -> None:
        words = [t.word() or t.text for t in st.tokens[1:-1]]
        if len(words) >= 3 and words[1] in ("=", "to"):
            name = words[0]
            value = st.tokens[3].text.strip("'").lower() if len(words) == 3 else ""
            if name == "standard_conforming_strings":
                if value not in ("on", "off"):
                    raise self._fail(st.line, f"unsupported setting ({st.snippet()})")
                self._scs = value == "on"
            elif name == "client_encoding" and value.replace("-", "").replace("_", "") not in ("utf8", "unicode"):
                raise self._fail(st.line, "client_encoding other than UTF8 not supported")

    _SELECT_OK = re.compile(r"SELECT pg_catalog \. (set_config|setval) \($", re.IGNORECASE)

    def _select(self, st: _Statement) -> None:
        toks = st.tokens
        shape = " ".join(t.text for t in toks[:5])
        ok = self._SELECT_OK.match(shape) is not None and len(toks) >= 7
        ok = ok and toks[-2].text == ")" and toks[-1].text == ";"
        # arguments: literals and commas only
        for t in toks[5:-2]:
            if not (t.kind in ("str", "estr", "num") or t.text in (",", "-") or t.word() in ("true", "false")):
                ok = False
        if not ok:
            raise self._foreign(st)

    def _name(self, toks: list[_Tok], i: int) -> tuple[list[str], int]:
        """A possibly qualified name at toks[i]; (parts, next index)."""
        parts: list[str] = []
        while i < len(toks):
            t = toks[i]
            if t.kind == "id":
                parts.append(t.text.lower())
            elif t.kind == "qid":
                parts.append(t.text[1:-1].replace('""', '"'))
            else:
                break
            i += 1
            if i < len(toks) and toks[i].text == ".":
                i += 1
                continue
            break
        return parts, i

    def _is_target(self, parts: list[str]) -> bool:
        t = self.table
        return parts == [t.schema, t.name] or parts == [t.name]

    def _column_list(self, st: _Statement, i: int) -> tuple[list[str] | None, int]:
        toks = st.tokens
        if i >= len(toks) or toks[i].text != "(":
            return None, i
        cols: list[str] = []
        i += 1
        while True:
            parts, j = self._name(toks, i)
            if len(parts) != 1 or j >= len(toks) or toks[j].text not in (",", ")"):
                raise self._fail(st.line, f"bad column list in {st.snippet()}")
            cols.append(parts[0])
            i = j + 1
            if toks[j].text == ")":
                return cols, i

    def _set_columns(self, st: _Statement, cols: list[str] | None) -> None:
        if cols is None:  # no list: every column in table order (pg_dump's own order)
            cols = [c.name for c in self.table.columns]
        if self.columns is None:
            check_columns(f"{self.where} line {st.line}", cols, self.table)
            self.columns = cols
        elif cols != self.columns:
            raise self._fail(st.line, f"column list differs from the first COPY/INSERT ({st.snippet()})")

    def _copy(self, st: _Statement) -> None:
        toks = st.tokens
        parts, i = self._name(toks, 1)
        if not parts or not self._is_target(parts):
            raise self._foreign(st)
        cols, i = self._column_list(st, i)
        tail = [t.word() or t.text for t in toks[i:]]
        if tail != ["from", "stdin", ";"]:
            raise self._fail(
                st.line,
                f"only COPY {self.table.qualified} [(columns)] FROM stdin; is allowed ({st.snippet()})",
            )
        self._set_columns(st, cols)

    def _copy_data(self, lines: Iterator[tuple[int, bytes]], st: _Statement) -> Iterator[bytes]:
        assert self.columns is not None
        ncols = len(self.columns)
        not_null = {i for i, c in enumerate(self.columns) if (col := self.table.column(c)) is not None and col.not_null}
        for lineno, raw in lines:
            body = raw.rstrip(b"\n").rstrip(b"\r") if raw.endswith(b"\n") else raw
            if body == b"\\.":
                return
            if not raw.endswith(b"\n"):
                break
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                raise self._fail(lineno, "not valid UTF-8") from None
            fields = body.split(b"\t")
            if len(fields) != ncols:
                raise self._fail(lineno, f"{len(fields)} fields, expected {ncols}")
            for i in not_null:
                if fields[i] == b"\\N":
                    raise self._fail(lineno, f"NULL in NOT NULL column {self.columns[i]}")
            self.count += 1
            yield raw
        raise self._fail(st.line, "COPY data not terminated by \\. (file truncated?)")

    def _insert(self, st: _Statement) -> None:
        """INSERT INTO t [(cols)] [OVERRIDING {SYSTEM|USER} VALUE] VALUES (...)[, (...)]
        [ON CONFLICT DO NOTHING];  -- rows are queued for rows()."""
        toks = st.tokens
        if len(toks) < 3 or toks[1].word() != "into":
            raise self._foreign(st)
        parts, i = self._name(toks, 2)
        if not parts or not self._is_target(parts):
            raise self._foreign(st)
        cols, i = self._column_list(st, i)
        if i < len(toks) and toks[i].word() == "overriding":
            if [t.word() for t in toks[i + 1 : i + 3]] not in (["system", "value"], ["user", "value"]):
                raise self._fail(st.line, f"bad OVERRIDING clause ({st.snippet()})")
            i += 3
        if i >= len(toks) or toks[i].word() != "values":
            raise self._fail(
                st.line,
                f"INSERT into {self.table.qualified} without VALUES: only literal VALUES "
                f"lists are allowed ({st.snippet()})",
            )
        self._set_columns(st, cols)
        assert self.columns is not None
        i += 1
        rows: list[list[str | None]] = []
        while True:
            row, i = self._values_row(st, i)
            if len(row) != len(self.columns):
                raise self._fail(st.line, f"{len(row)} values, expected {len(self.columns)}")
            rows.append(row)
            if i < len(toks) and toks[i].text == ",":
                i += 1
                continue
            break
        tail = [t.word() or t.text for t in toks[i:]]
        if tail not in ([";"], ["on", "conflict", "do", "nothing", ";"]):
            raise self._fail(st.line, f"unexpected text after VALUES ({st.snippet()})")
        for row in rows:
            for idx, v in enumerate(row):
                if v is None:
                    col = self.table.column(self.columns[idx])
                    if col is not None and col.not_null:
                        raise self._fail(st.line, f"NULL in NOT NULL column {self.columns[idx]}")
        self._pending = rows

    def _values_row(self, st: _Statement, i: int) -> tuple[list[str | None], int]:
        toks = st.tokens
        if i >= len(toks) or toks[i].text != "(":
            raise self._fail(st.line, f"expected '(' after VALUES ({st.snippet()})")
        i += 1
        row: list[str | None] = []
        while True:
            value, i = self._literal(st, i)
            row.append(value)
            if i < len(toks) and toks[i].text == ",":
                i += 1
                continue
            if i < len(toks) and toks[i].text == ")":
                return row, i + 1
            raise self._not_literal(st, i)

    def _not_literal(self, st: _Statement, i: int) -> FallbackUnusable:
        toks = st.tokens
        kinds = {"id": "a name or function call", "qid": "a quoted name", "op": "an operator"}
        found = "the end of the statement" if i >= len(toks) else kinds.get(toks[i].kind, "something else")
        return self._fail(st.line, f"VALUES may hold only literals, found {found}")

    def _literal(self, st: _Statement, i: int) -> tuple[str | None, int]:
        toks = st.tokens
        if i >= len(toks):
            raise self._not_literal(st, i)
        t = toks[i]
        value: str | None
        if t.text in ("-", "+") and i + 1 < len(toks) and toks[i + 1].kind == "num":
            value = (t.text if t.text == "-" else "") + toks[i + 1].text
            i += 2
        elif t.kind == "num":
            value, i = t.text, i + 1
        elif t.kind == "str":
            body = t.text[1:-1]
            try:
                value = body.replace("''", "'") if self._scs else _decode_escape_string(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise self._fail(st.line, f"bad string literal ({type(exc).__name__})") from None
            i += 1
        elif t.kind == "estr":
            try:
                value = _decode_escape_string(t.text[2:-1])
            except (ValueError, UnicodeDecodeError) as exc:
                raise self._fail(st.line, f"bad E'' string literal ({type(exc).__name__})") from None
            i += 1
        elif t.word() == "null":
            value, i = None, i + 1
        elif t.word() in ("true", "false"):
            value, i = t.word(), i + 1
        else:
            raise self._not_literal(st, i)
        while i < len(toks) and toks[i].text == "::":
            i = self._type_name(st, i + 1)
        return value, i

    def _type_name(self, st: _Statement, i: int) -> int:
        """Skip a type name after '::' (multi-word, qualified, typmod, array brackets)."""
        toks = st.tokens
        start = i
        while i < len(toks):
            t = toks[i]
            if t.kind in ("id", "qid") or t.text == ".":
                i += 1
            elif t.text == "(" and i > start:
                j = i + 1
                while j < len(toks) and (toks[j].kind == "num" or toks[j].text == ","):
                    j += 1
                if j >= len(toks) or toks[j].text != ")" or j == i + 1:
                    raise self._not_literal(st, start - 1)
                i = j + 1
            elif t.text == "[" and i > start:
                if i + 1 >= len(toks) or toks[i + 1].text != "]":
                    raise self._not_literal(st, start - 1)
                i += 2
            else:
                break
        if i == start or toks[start].kind not in ("id", "qid"):
            raise self._not_literal(st, start - 1)
        return i
