// Throw-away PostgreSQL clusters for the database drills (backups, copies, PgBouncer,
// replicas, failover): each made by the project's own tools/quill with QUILL_DATA_DIR
// pointing into a temporary directory, all on 127.0.0.1.
//
// Their ports are fixed per suite, and below the kernel's range of ephemeral ports
// (32768 and up on Linux): a port in that range can be taken at any moment by some
// process's outgoing connection, and PostgreSQL then cannot listen on it.  Extra port n
// (1 to 9) of a suite on QUILL_PG_PORT is 20000 + (QUILL_PG_PORT mod 1000) * 10 + n
// (23291 ... for the default 54329), so suites on different ports never share one.
import { mkdtempSync, chmodSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { execFile } from 'node:child_process'
import { ROOT, BIN } from './lib.mjs'

const BASE = Number(process.env.QUILL_PG_PORT || 54329)
export const extraPort = (n) => 20000 + (BASE % 1000) * 10 + n

export const urlOf = (port, db = 'quill') => `postgresql://postgres@127.0.0.1:${port}/${db}`

// Run a command (no shell) with a time bound; resolves {code, stdout, stderr, ms}.
export function exec (cmd, args, env = {}, timeoutMs = 120000) {
  return new Promise((resolve) => {
    const t0 = Date.now()
    execFile(cmd, args, { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err ? (err.code ?? 1) : 0, stdout, stderr, ms: Date.now() - t0 })
    })
  })
}

// A data directory (made readable to the postgres user) and tools/quill bound to it.
export function dataDir (name) {
  const dir = mkdtempSync(path.join(tmpdir(), `quill-${name}-`))
  chmodSync(dir, 0o755)
  return dir
}

export function cluster (name, n) {
  const c = { dir: dataDir(name), port: extraPort(n) }
  c.env = { QUILL_DATA_DIR: c.dir, QUILL_PG_PORT: String(c.port), QUILL_PG_SHARED_BUFFERS: '32MB' }
  c.url = (db = 'quill') => urlOf(c.port, db)
  // tools/quill with this cluster's settings; throws with its output when it fails.
  c.tools = async (...args) => {
    const r = await exec(`${ROOT}/tools/quill`, args, c.env, 300000)
    if (r.code !== 0) throw new Error(`tools/quill ${args.join(' ')} (exit ${r.code}): ${r.stderr}${r.stdout}`)
    return r
  }
  c.migrate = async (db = 'quill') => {
    const r = await exec(`${BIN}/quill-migrate`, ['up'], { DATABASE_URL: c.url(db), QUILL_MIGRATIONS_DIR: `${ROOT}/migrations` })
    if (r.code !== 0) throw new Error(`quill-migrate: ${r.stderr}`)
  }
  // Start it empty with a migrated database "quill".
  c.create = async () => {
    await c.tools('pg', 'start')
    await c.tools('pg', 'createdb', 'quill')
    await c.migrate()
    return c
  }
  return c
}

// Stop every PostgreSQL running from a directory under dir (immediate: they are thrown
// away), then delete dir.
export async function destroy (dir) {
  if (!dir) return
  const r = await exec('sh', ['-c', `for p in $(find "${dir}" -maxdepth 3 -name postmaster.pid); do d=$(dirname "$p"); if [ "$(id -u)" = 0 ]; then runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$d" -m immediate -w stop; else /usr/lib/postgresql/15/bin/pg_ctl -D "$d" -m immediate -w stop; fi; done`], {}, 60000)
  if (r.code !== 0) console.error(r.stderr)
  rmSync(dir, { recursive: true, force: true })
}

export function psql (url, query) {
  return exec('psql', ['-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', url, '-c', query]).then((r) => {
    if (r.code !== 0) throw new Error(`psql ${query}: ${r.stderr}`)
    return r.stdout.trim()
  })
}
