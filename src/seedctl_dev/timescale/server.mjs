// Test-only: a real TimescaleDB (PGlite, PostgreSQL 17 in WASM, with TimescaleDB) on a
// loopback port, for seedctl_dev.tsdbserver. Prints one line `listening <port>` once it
// accepts connections; stops on SIGTERM/SIGINT or when its standard input closes (the
// process that started it is gone).
//
// PGlite is ONE PostgreSQL backend: a second connection waits in a queue until the first
// closes, and whatever a connection leaves behind would be the next connection's. So when a
// client goes away, its open transaction is rolled back, its prepared statements and
// cursors dropped (psycopg names them _pg3_0, _pg3_1, ... in every connection) and its
// settings reset to the ones this session started with, as a new backend of a real server
// would start (pg_dump, for one, sets search_path and restrict_nonsystem_relation_kind).
// RESET ALL alone would leave search_path at PGlite's command-line value (pg_catalog), not
// the one its session starts with (public): the start values are set again after it.
//
// Usage: node server.mjs [--no-extension]
//   --no-extension  TimescaleDB is available (its library loaded) but not created: a fresh
//                   database where `CREATE EXTENSION timescaledb` is still to run.
import { PGlite } from "@electric-sql/pglite";
import { timescaledb } from "@electric-sql/pglite/timescaledb";
import { PGLiteSocketHandler, PGLiteSocketServer } from "@electric-sql/pglite-socket";

// PGlite logs at DEBUG by default: every notice would reach the client.
const QUIET = "SET client_min_messages = warning";

function query(text) {
  // A simple-protocol Query message: 'Q', int32 length, the text, NUL.
  const body = Buffer.from(`${text}\0`, "utf8");
  const message = Buffer.alloc(5 + body.length);
  message.write("Q", 0);
  message.writeInt32BE(4 + body.length, 1);
  body.copy(message, 5);
  return new Uint8Array(message);
}

let startSettings = []; // SET statements that give a fresh connection the session's start state

const detach = PGLiteSocketHandler.prototype.detach;
PGLiteSocketHandler.prototype.detach = function (close) {
  if (this.socket) {
    for (const text of ["ROLLBACK", "DEALLOCATE ALL", "CLOSE ALL", "RESET ALL", ...startSettings]) {
      try {
        this.db.execProtocolRawSync(query(text));
      } catch {
        // a session with nothing to roll back: nothing to do
      }
    }
  }
  return detach.call(this, close);
};

// This PGlite build crashes (a WASM trap) on COPY ... FROM STDIN over the socket, the way
// every client loads rows. So the COPY's data is taken here, as a server takes it
// (CopyInResponse, CopyData until CopyDone), written to a file in PGlite's own file system,
// and the same COPY statement then runs FROM that file: PostgreSQL's and TimescaleDB's COPY
// (rows routed into chunks) all the same, only the bytes arrive another way. Only a Query
// message that is a whole `COPY ... FROM STDIN` is taken; everything else passes untouched.
const COPY_FILE = "/tmp/seedctl-copy-from-stdin";
const COPY_FROM_STDIN = /^(\s*COPY\s[\s\S]*?\sFROM)\s+STDIN\b([\s\S]*?)\s*;?\s*$/i;

function copyFromStdin(data) {
  if (data.length < 6 || data[0] !== 0x51 || data.readInt32BE(1) !== data.length - 1) return null;
  const text = data.subarray(5, data.length - 1).toString("utf8");
  const match = COPY_FROM_STDIN.exec(text);
  if (!match) return null;
  const binary = /\bFORMAT\s*\(?\s*binary\b|\bBINARY\b/i.test(match[2]);
  return { statement: `${match[1]} '${COPY_FILE}'${match[2]}`, binary };
}

function copyInResponse(binary) {
  const message = Buffer.alloc(8); // 'G', int32 length, int8 format, int16 column count (0)
  message.write("G", 0);
  message.writeInt32BE(7, 1);
  message.writeInt8(binary ? 1 : 0, 5);
  message.writeInt16BE(0, 6);
  return message;
}

const handleData = PGLiteSocketHandler.prototype.handleData;
PGLiteSocketHandler.prototype.handleData = async function (data) {
  data = Buffer.from(data);
  if (!this.copyIn) {
    const copy = copyFromStdin(data);
    if (!copy) return handleData.call(this, data);
    this.copyIn = { ...copy, parts: [], pending: Buffer.alloc(0) };
    this.socket.write(copyInResponse(copy.binary));
    return 8;
  }
  const state = this.copyIn;
  state.pending = Buffer.concat([state.pending, data]);
  while (state.pending.length >= 5) {
    const type = state.pending[0];
    const end = 1 + state.pending.readInt32BE(1);
    if (state.pending.length < end) break;
    const body = Buffer.from(state.pending.subarray(5, end));
    state.pending = state.pending.subarray(end);
    if (type === 0x64) {
      state.parts.push(body); // 'd' CopyData
    } else if (type === 0x63 || type === 0x66) {
      // 'c' CopyDone: run the COPY from the file; 'f' CopyFail: fail the statement
      this.copyIn = null;
      const fs = this.db.mod.FS;
      let reply;
      if (type === 0x63) {
        fs.writeFile(COPY_FILE, Buffer.concat(state.parts));
        try {
          reply = this.db.execProtocolRawSync(query(state.statement));
        } finally {
          fs.unlink(COPY_FILE);
        }
      } else {
        reply = this.db.execProtocolRawSync(query("DO $$BEGIN RAISE EXCEPTION 'COPY from stdin failed'; END$$"));
      }
      this.socket.write(reply);
      if (state.pending.length) return this.handleData(state.pending);
      return reply.length;
    } // 'H' Flush and 'S' Sync mean nothing during COPY FROM STDIN
  }
  return 0;
};

const withExtension = !process.argv.includes("--no-extension");
const db = await PGlite.create({ extensions: { timescaledb } });
await db.exec(QUIET);
if (withExtension) {
  await db.exec("CREATE EXTENSION IF NOT EXISTS timescaledb");
}
const started = await db.query("SELECT format('SELECT pg_catalog.set_config(%L, %L, false)', name, setting) AS sql FROM pg_settings WHERE source = 'session'");
startSettings = started.rows.map((row) => row.sql);
// A queued connection waits for the one before it to close (seedctl's stages run one
// after another, each closing its connection): never give up on it while it waits.
const server = new PGLiteSocketServer({ db, port: 0, host: "127.0.0.1", connectionQueueTimeout: 2 ** 31 - 1 });
await server.start();
process.stdout.write(`listening ${server.server.address().port}\n`);

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop();
  await db.close();
  process.exit(0);
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop);
process.stdin.resume();
