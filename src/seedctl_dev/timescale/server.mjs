// Test-only: a real TimescaleDB (PGlite, PostgreSQL 17 in WASM, with TimescaleDB) on a
// loopback port, for seedctl_dev.tsdbserver. Prints one line `listening <port>` once it
// accepts connections; stops on SIGTERM/SIGINT or when its standard input closes (the
// process that started it is gone).
//
// PGlite is ONE PostgreSQL backend: a second connection waits in a queue until the first
// closes, and whatever a connection leaves behind would be the next connection's. So when a
// client goes away, its open transaction is rolled back here, as a real server does when a
// backend exits. Its SET values are NOT reset: in this build RESET ALL and DISCARD ALL after a
// multi-statement query lose that query's committed work.
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

const detach = PGLiteSocketHandler.prototype.detach;
PGLiteSocketHandler.prototype.detach = function (close) {
  if (this.socket) {
    for (const text of ["ROLLBACK", QUIET]) {
      try {
        this.db.execProtocolRawSync(query(text));
      } catch {
        // a session with nothing to roll back: nothing to do
      }
    }
  }
  return detach.call(this, close);
};

const withExtension = !process.argv.includes("--no-extension");
const db = await PGlite.create({ extensions: { timescaledb } });
await db.exec(QUIET);
if (withExtension) {
  await db.exec("CREATE EXTENSION IF NOT EXISTS timescaledb");
}
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
