-- One table per type family, with value literals from PostgreSQL's own regression suite
-- (postgres/postgres, src/test/regress/sql/<file>.sql, named above each table), the nasty
-- ones included. A few edges those files do not spell out are seedctl's own: CR and CRLF
-- inside strings and names, -0.0 numeric, 1000-digit numerics built with repeat(), the
-- "\N" and "NULL" strings, every byte value, NULL in every column, empty arrays/ranges.
-- Used by tests/func/restore/test_type_coverage.py.

-- int2.sql, int4.sql, int8.sql
CREATE TABLE tc_integers (id int PRIMARY KEY, i2 smallint, i4 integer, i8 bigint);
INSERT INTO tc_integers VALUES
 (1, '0', '0', '123'), (2, '1234', '123456', '4567890123456789'),
 (3, '-1234', '-123456', '-4567890123456789'),
 (4, '32767', '2147483647', '9223372036854775807'), (5, '-32768', '-2147483648', '-9223372036854775808'),
 (6, '  34', '   -123', '+4567890123456789'), (7, NULL, NULL, NULL);

-- float4.sql, float8.sql (specials, subnormals and extremes of its round-trip tests, -0)
CREATE TABLE tc_floats (id int PRIMARY KEY, f4 real, f8 double precision);
INSERT INTO tc_floats VALUES
 (1, '    0.0', '    0.0   '), (2, '1004.30   ', '1004.30  '), (3, '     -34.84    ', '   -34.84'),
 (4, '1.2345678901234e+20', '1.2345678901234e+200'), (5, '1.2345678901234e-20', '1.2345678901234e-200'),
 (6, 'NaN', 'NaN'), (7, 'infinity', 'infinity'), (8, '          -INFINiTY   ', '          -INFINiTY   '),
 (9, '-0', '-0'), (10, '1.17549435e-38', '2.2250738585072014E-308'),
 (11, '1.4e-45', '4.9406564584124654e-324'), -- the smallest subnormals
 (12, '3.4028235e+38', '1.7976931348623157e+308'), -- x'7fefffffffffffff': the largest
 (13, NULL, NULL);

-- numeric.sql (1000-digit values, NaN; Infinity on PostgreSQL 14+: this suite runs 15)
CREATE TABLE tc_numeric (id int PRIMARY KEY, n numeric, n_fixed numeric(12,4), n_wide numeric(1000,500));
INSERT INTO tc_numeric VALUES
 (1, '0', '0', '0'), (2, 'NaN', 'NaN', 'NaN'), (3, 'Infinity', '1', '-1'), (11, '-Infinity', NULL, NULL),
 (4, '-34338492.215397047', '-3433.8492', '-34338492.215397047'),
 (5, '0.0000000000000000000000000000000000000000000000000000001', '0.0001', '-0.000000000000000001'),
 (6, repeat('9', 1000)::numeric, '99999999.9999', ('0.' || repeat('9', 500))::numeric),
 (7, ('-' || repeat('1', 999) || '.' || repeat('1', 16383))::numeric, '-99999999.9999',
     (repeat('1', 500) || '.' || repeat('3', 500))::numeric),
 (8, '1e-16383', NULL, NULL), (9, '-0.0', '-0.0', '-0.000'), (10, NULL, NULL, NULL);

-- money.sql
CREATE TABLE tc_money (id int PRIMARY KEY, m money);
INSERT INTO tc_money VALUES
 (1, '$123.45'), (2, '-$123.45'), (3, '$1,000.00'), (4, '-92233720368547758.08'),
 (5, '92233720368547758.07'), (6, '-$0.01'), (7, NULL);

-- boolean.sql
CREATE TABLE tc_bool (id int PRIMARY KEY, b boolean);
INSERT INTO tc_bool VALUES (1, 't'), (2, '   f           '), (3, 'yes'), (4, 'off'), (5, NULL);

-- char.sql, varchar.sql, text.sql, strings.sql (CR, trailing spaces, quotes, backslashes)
CREATE TABLE tc_strings (id int PRIMARY KEY, c char(4), c1 "char", vc varchar(4), t text, nm name);
INSERT INTO tc_strings VALUES
 (1, 'a', 'a', 'a', 'doh!', 'name'), (2, 'ab  ', 'Z', 'ab  ', 'hi de ho neighbor', ''),
 (3, E'c\r', E'\r', E'c\r  ', E'line\r\nbreak\rcr only ', 'Mixed Case'),
 (4, '    ', ' ', '', '', '"'), (5, 'cd  ', '\', 'cd', E'\\ back\\\\slash \N', E'tab\there'),
 (6, '""', '"', ',', E'"quoted", comma,\n', 'trailing '), (7, NULL, NULL, NULL, NULL, NULL),
 (8, 'x', E'\001', 'NULL', '\N', 'ïüé'), (9, '4', 'ë', 'ë', U&'d\0061t\+000061 \2603', 'ë');

-- strings.sql (bytea): every byte value, escape and hex input
CREATE TABLE tc_bytea (id int PRIMARY KEY, b bytea);
INSERT INTO tc_bytea VALUES
 (1, (SELECT string_agg(set_byte('\x00'::bytea, 0, g), ''::bytea ORDER BY g) FROM generate_series(0, 255) g)),
 (2, E'\\xDeAdBeEf'), (3, E'\\x De Ad Be Ef '), (4, E'\\000'), (5, E'\\\\'), (6, ''), (7, NULL),
 (8, 'abc \153\154\155 \052\251\124');

-- date.sql, time.sql, timetz.sql, timestamp.sql, timestamptz.sql, interval.sql, horology.sql
-- (Not the interval minimum, -9223372036854775808 us: PostgreSQL 15 prints it as text that
-- its own input rejects, so no text-based tool, pg_dump included, can carry it.)
CREATE TABLE tc_datetime (
  id int PRIMARY KEY, d date, t time, t2 time(2), ttz timetz, ts timestamp, ts0 timestamp(0),
  tstz timestamptz, tstz2 timestamptz(2), iv interval, iv_day interval day to second(3)
);
INSERT INTO tc_datetime VALUES
 (1, '1957-04-09', '00:00', '23:59:59.99', '00:01 PDT', 'epoch', 'epoch', 'epoch', 'epoch', '@ 1 minute', '1 day 02:03:04.5678'),
 (2, 'infinity', '24:00:00', '24:00:00', '24:00:00 PDT', 'infinity', 'infinity', 'infinity', 'infinity',
  '-1 days +02:03', '-1 day -00:00:00.001'),
 (3, '-infinity', '23:59:59.999999', '11:59 PM', '23:59:59.999999 PDT', '-infinity', '-infinity', '-infinity',
  '-infinity', '@ 14 seconds ago', '0'),
 (4, '4714-11-24 BC', '15:36:39', '01:00', '2003-07-07 15:36:39 America/New_York', '4714-11-24 00:00:00 BC',
  'Feb 16 17:32:01 0097 BC', 'Feb 16 17:32:01 0097 BC', 'Mon Feb 10 17:32:01.5 1997 PST',
  '10 years -11 month -12 days +13:14', '6 years'),
 (5, '5874897-12-31', '12:00', '12:00', '11:59:59.99 PM PDT', '294276-12-31 23:59:59.999999',
  '294276-12-31 23:59:59', '294276-12-31 23:59:59.999999+00', 'Mon Feb 10 17:32:01.999999 1997 PST',
  '@ 5 hour', '@ 34 years'),
 (6, '2040-04-10 BC', '04:05:06.789', '04:05:06.789', '23:59:60 PDT', 'Mon Feb 10 17:32:01.000001 1997',
  '2000-03-15 08:14:01.6', '2000-03-15 08:14:01 GMT+8', '19970710 173201 America/New_York',
  '2147483647 days 2147483647 months', '-2147483648 days'),
 (7, '0001-01-01', '00:00:00.000001', NULL, '2020-05-26 13:30:25.575401-04:30', '0001-01-01 00:00:00', NULL,
  '1997-02-10 17:32:01-0800', NULL, '-2147483648 months -2147483648 days -9223372036854775807 us', NULL),
 (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- uuid.sql
CREATE TABLE tc_uuid (id int PRIMARY KEY, u uuid);
INSERT INTO tc_uuid VALUES
 (1, '11111111-1111-1111-1111-111111111111'), (2, '{22222222-2222-2222-2222-222222222222}'),
 (3, '3f3e3c3b3a3039383736353433a2313e'), (4, '00000000-0000-0000-0000-000000000000'), (5, NULL);

-- inet.sql, macaddr.sql, macaddr8.sql
CREATE TABLE tc_network (id int PRIMARY KEY, i inet, c cidr, m macaddr, m8 macaddr8);
INSERT INTO tc_network VALUES
 (1, '192.168.1.226/24', '192.168.1', '08:00:2b:01:02:03', '08:00:2b:01:02:03:04:05'),
 (2, '10.1.2.3/8', '10', '08-00-2b-01-02-03', '08-00-2b-01-02-03-04-05'),
 (3, '::ffff:1.2.3.4/128', '10:23::/64', '08002b:010203', '08002b:0102030405'),
 (4, '10:23::8000/113', '::ffff:1.2.3.4/128', '0800.2b01.0203', '0800.2b01.0203.0405'),
 (5, '9.1.2.3/8', '10.1.2.3', '08002b010203', '08:00:2b:01:02:03'), (6, NULL, NULL, NULL, NULL);

-- bit.sql
CREATE TABLE tc_bits (id int PRIMARY KEY, b bit(11), vb varbit(11), vbu bit varying);
INSERT INTO tc_bits VALUES
 (1, B'00000000000', B'', B''), (2, B'11011000000', B'0', B'1'), (3, B'01010101010', B'010101', X'F1'),
 (4, B'11111111111', B'01010101010', repeat('10', 500)::varbit), (5, NULL, NULL, NULL);

-- json.sql, jsonb.sql: json keeps its text exactly (whitespace, duplicate keys, escapes)
CREATE TABLE tc_json (id int PRIMARY KEY, j json, jb jsonb);
INSERT INTO tc_json VALUES
 (1, '"\n\"\\"', '"\n\"\\"'), (2, '"\u0000"', '"\uaBcD"'), (3, ' true ', ' true '),
 (4, '{"abc":1,"def":2,"ghi":[3,4],"hij":{"klm":5,"nop":[6]}}', '{"abc":1,"def":2,"ghi":[3,4],"hij":{"klm":5,"nop":[6]}}'),
 (5, '{"a":1,"a":2}', '{"a":1,"a":2}'), (6, '9223372036854775808', '1e100'),
 (7, E'{ "a":  "\\ud83d\\ude04\\ud83d\\udc36" }', E'{ "a":  "\\ud83d\\ude04\\ud83d\\udc36" }'),
 (8, E'[1,\n  2 ,\t"x"]', '[]'), (9, 'null', 'null'), (10, NULL, NULL);

-- arrays.sql: NULLs, quotes, backslashes, multi-dimensional, non-default lower bounds
CREATE TABLE tc_arrays (id int PRIMARY KEY, ia int[], ta text[], fa float8[], ra int4range[], ba bytea[]);
INSERT INTO tc_arrays VALUES
 (1, '{1,null,3}', '{"one","two",null,"four"}', '[0:1]={1.1,2.2}', '{"[1,10)","[2,20)"}', '{"\\x00"}'),
 (2, '[2:4]={5,6,7}', '{ { "," } , { 3 } }', '{}', '{}', '{}'),
 (3, '{{{1,2,3,4},{2,3,4,5}},{{3,4,5,6},{4,5,6,7}}}', E'{"\\\\","\\"",NULL,"NULL","",a b}',
  '{NaN,-0,Infinity}', NULL, '{NULL}'),
 (4, '[0:1]={1,2}', '{{"elt1", "elt2"}}', '[-3:-2]={1,2}', '{empty}', NULL),
 (5, NULL, NULL, NULL, NULL, NULL);

-- rangetypes.sql, multirangetypes.sql
CREATE TABLE tc_ranges (id int PRIMARY KEY, nr numrange, ir int4range, i8r int8range, dr daterange, tsr tsrange,
                        tstzr tstzrange, nmr nummultirange, dmr datemultirange);
INSERT INTO tc_ranges VALUES
 (1, '[,)', int4range(1, 10, '[]'), int8range(10000000000::int8, 20000000000::int8,'(]'),
  daterange('2000-01-10'::date, '2000-01-20'::date, '[]'), '[2010-01-02 10:00, 2010-01-02 11:00)',
  '[2010-01-01 01:00:00 -05, 2010-01-01 02:00:00 -08)', '{}', '{[2000-01-10,2000-01-20]}'),
 (2, 'empty', 'empty', 'empty', 'empty', 'empty', 'empty', '{[1.1,2.2)}', '{}'),
 (3, numrange(1.7, 1.7, '[]'), '(,)', '[3,]', '[infinity,]', '(,infinity]', '[-infinity,infinity]',
  '{[1.0,2.0), [3.0,4.0), (5, 6]}', '{(,2000-01-01), [2000-02-01,)}'),
 (4, '[, 5)', '[,]', '(,)', '(-infinity,2000-01-10]', '["2000-01-01 00:00:00",)', '(,)',
  '{[, 5), [7,)}', '{empty}'),
 (5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- point.sql, line.sql, lseg.sql, box.sql, path.sql, polygon.sql, circle.sql
CREATE TABLE tc_geometry (id int PRIMARY KEY, p point, l line, ls lseg, bx box, pt path, pg polygon, c circle);
INSERT INTO tc_geometry VALUES
 (1, '(0.0,0.0)', '{1,-1,0}', '[(1,2),(3,4)]', '(2.0,2.0,0.0,0.0)', '[(1,2),(3,4)]', '(2.0,0.0),(2.0,4.0),(0.0,0.0)',
  '<(5,1),3>'),
 (2, '(-10.0,0.0)', '{0,-1,5}', '[(0,0),(6,6)]', '(1.0,1.0,3.0,3.0)', '((1,2),(3,4))', '(3.0,1.0),(3.0,3.0),(1.0,0.0)',
  '<(1,2),100>'),
 (3, '(1e-300,-1e-300)', '{3,NaN,5}', '[(10,-10),(-3,-4)]', '(-2,2),(2,-2)', '[(0,0),(3,0),(4,5),(1,6)]',
  '((1,2),(3,4))', '1,3,5'),
 (4, '(1e+300,Inf)', '{-1,0,3}', '[(-1e6,2e2),(3e5,-4e1)]', '(2.5, 2.5, 2.5,3.5)', '((0,0),(3,0),(4,5),(1,6))',
  '(0.0,0.0)', '<(100,200),10>'),
 (5, '(Inf,1e+300)', '{0,-1,3}', '[(11,22),(33,44)]', '(3.0, 3.0,3.0,3.0)', '[(1e-300,-1e-300),(-1e-300,1e-300)]',
  '((0,1),(0,1))', '<(1e+300,Infinity),5>'),
 (6, '(NaN,NaN)', '{-0.4,-1,-6}', '[(NaN,1),(NaN,90)]', '(NaN,NaN,NaN,NaN)', '[(NaN,1),(NaN,90)]', '(NaN,1),(NaN,90)',
  '<(3,5),NaN>'),
 (7, '(5.1, 34.5)', '{1,0,5}', NULL, NULL, NULL, NULL, '<(3,5),0>'), (8, NULL, NULL, NULL, NULL, NULL, NULL, NULL);

-- tstypes.sql
CREATE TABLE tc_textsearch (id int PRIMARY KEY, v tsvector, q tsquery);
INSERT INTO tc_textsearch VALUES
 (1, '1', '1'), (2, E'''1 \\''2'' 3', E'''1 \\''2'''),
 (3, $$'\\as' ab\c ab\\c AB\\\c ab\\\\c$$, $$'\\as'$$),
 (4, 'a:3A b:2a', '1&(2&(4&(5|!6)))'),
 (5, 'base:7 hidden:6 rebel:1 spaceship:2,33A,34B,35C,36D strike:3', 'a:* & nbb:*ac | doo:a* | goo'),
 (6, 'w:12B w:13* w:12,5,6 a:1,3* a:3 w asd:1dc asd', 'a <-> (b|c)'),
 (7, '', '!(a&b) <-> c'), (8, NULL, NULL);

-- xml.sql
CREATE TABLE tc_xml (id int PRIMARY KEY, x xml);
INSERT INTO tc_xml VALUES
 (1, '<value>one</value>'), (2, '<value>two</value>'), (3, '<?xml version="1.0"?><a>&lt;&amp;</a>'),
 (4, 'abc'), (5, '<foo>bar</foo><bar>foo</bar>'), (6, '<![CDATA[x<y]]>'), (7, NULL),
 (8, E'<a  attr = "v" >\r\n  <b/>  </a>');

-- pg_lsn.sql
CREATE TABLE tc_lsn (id int PRIMARY KEY, l pg_lsn);
INSERT INTO tc_lsn VALUES (1, '0/0'), (2, 'FFFFFFFF/FFFFFFFF'), (3, '0/16AE7F7'), (4, '0/16AE7F8'), (5, NULL);

-- A table without a primary key: duplicate rows must all come back.
CREATE TABLE tc_no_key (t text, n numeric, f float8);
INSERT INTO tc_no_key VALUES ('dup', 1.0, -0), ('dup', 1.0, -0), ('dup', 1.00, 0), (NULL, NULL, NULL), (NULL, NULL, NULL),
 ('', 'NaN', 'NaN');

-- The types a restore loads in PostgreSQL's binary COPY format (src/seedctl/pg/copybinary.py),
-- each edge in one table: a table goes binary only when every column maps exactly. int2.sql,
-- int4.sql, int8.sql, float4.sql, float8.sql, boolean.sql, numeric.sql (every scale alignment,
-- 18 digits), date.sql, timestamp.sql, timestamptz.sql (infinities, BC, years past 9999),
-- char.sql, varchar.sql, text.sql (CR, backslash, quotes, non-ASCII, empty).
CREATE TABLE tc_binary (
  id int PRIMARY KEY, i2 smallint, i8 bigint, f4 real, f8 double precision, b boolean,
  n12_4 numeric(12,4), n18_0 numeric(18,0), n18_18 numeric(18,18), n4_4 numeric(4,4), n7_3 numeric(7,3),
  d date, ts timestamp, tstz timestamptz, c char(4), vc varchar(4), t text
);
INSERT INTO tc_binary VALUES
 (1, '32767', '9223372036854775807', 'NaN', 'infinity', 't', '99999999.9999', '999999999999999999',
  '0.999999999999999999', '0.9999', '9999.999', 'infinity', 'infinity', 'infinity', 'a', 'ab  ', 'doh!'),
 (2, '-32768', '-9223372036854775808', '-0', '-INFINiTY', 'f', '-99999999.9999', '-999999999999999999',
  '-0.000000000000000001', '-0.0001', '-0.001', '-infinity', '-infinity', '-infinity', '    ', '', ''),
 (3, '0', '0', '1.4e-45', '4.9406564584124654e-324', 'yes', '-3433.8492', '0', '0', '0', '0.5',
  '4714-11-24 BC', '4714-11-24 00:00:00 BC', 'Feb 16 17:32:01 0097 BC', E'c\r', E'c\r  ',
  E'line\r\nbreak\rcr only \\ back\\\\slash "quoted", comma'),
 (4, '1234', '4567890123456789', '3.4028235e+38', '1.7976931348623157e+308', 'off', '0.0001', '-1', '0.5',
  '0.1', '-1234.5', '5874897-12-31', '10000-01-01 00:00:00', 'Mon Feb 10 17:32:01.5 1997 PST', 'ïüé', 'ë',
  U&'d\0061t\+000061 \2603'),
 (5, '-1234', '-4567890123456789', '1004.30', '-34.84', 'f', '-0.0', '123456789012345678', '0.123456789012345678',
  '-0.9999', '1', '1999-12-31', '1999-12-31 23:59:59.999999', '2000-01-01 00:00:00+00', 'cd  ', 'cd', 'NULL'),
 (6, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
 (7, '1', '-1', '1.17549435e-38', '2.2250738585072014E-308', 't', '1', '1', '0.000000000000000001', '0.0001',
  '0.001', '2000-01-01', 'epoch', 'epoch', '"', '\N', '\N');
