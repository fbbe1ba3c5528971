// The c15t consent backend as its self-hosting docs set it up: `@c15t/backend` on Kysely over
// better-sqlite3, served by @hono/node-server. Durability as ours: WAL, synchronous=FULL.
//   PORT=3001 C15T_DB=/tmp/c15t.sqlite node benches/peer/c15t-server.mjs
import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import { serve } from '@hono/node-server';
import { c15tInstance } from '@c15t/backend';
import { kyselyAdapter } from '@c15t/backend/db/adapters/kysely';
import { DB } from '@c15t/backend/db/schema';
import { migrator } from '@c15t/backend/db/migrator';

const sqlite = new Database(process.env.C15T_DB);
sqlite.pragma('journal_mode = WAL');
sqlite.pragma('synchronous = FULL');
const db = new Kysely({ dialect: new SqliteDialect({ database: sqlite }) });
const adapter = kyselyAdapter({ db, provider: 'sqlite' });
const migration = await migrator({ db: DB.client(adapter), schema: 'latest' });
await migration.execute();

const c15t = c15tInstance({ appName: 'peer-benchmark', trustedOrigins: ['http://127.0.0.1'], adapter });
const port = Number(process.env.PORT);
const pragmas = `journal_mode=${sqlite.pragma('journal_mode', { simple: true })} synchronous=${sqlite.pragma('synchronous', { simple: true })}`;
serve({ fetch: c15t.handler, port, hostname: '127.0.0.1' }, () => console.log(`c15t listening on ${port} (${pragmas})`));
