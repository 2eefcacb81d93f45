// The OpenAPI document: valid OpenAPI 3.1 (checked by a real validator from npm), and in
// step with the router: every route the server knows is documented and vice versa.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { Validator } from '@seriousme/openapi-schema-validator'
import { start, stop, http, run, BIN } from './lib.mjs'

let api
before(async () => { api = await start('quill-api') })
after(async () => { await stop(api) })

test('GET /v1/openapi.json is a valid OpenAPI 3.1 document', async () => {
  const r = await http(api, 'GET', '/v1/openapi.json')
  assert.equal(r.status, 200)
  assert.equal(r.body.openapi.slice(0, 3), '3.1')
  const v = new Validator()
  const res = await v.validate(r.body)
  assert.equal(res.valid, true, JSON.stringify(res.errors, null, 2))
})

test('the document is versioned as the build that serves it', async () => {
  const doc = (await http(api, 'GET', '/v1/openapi.json')).body
  const version = (await http(api, 'GET', '/v1/version')).body.version
  assert.match(version, /^\d+\.\d+\.\d+/)
  assert.equal(doc.info.version, version)
})

test('the router and the document list the same operations', async () => {
  const doc = (await http(api, 'GET', '/v1/openapi.json')).body
  const documented = new Set()
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const m of Object.keys(ops)) {
      if (['get', 'post', 'put', 'patch', 'delete'].includes(m)) documented.add(`${m.toUpperCase()} ${path}`)
    }
  }
  const routes = await run(`${BIN}/quill-api`, ['--routes'])
  assert.equal(routes.code, 0)
  const served = new Set(routes.stdout.trim().split('\n'))
  const missing = [...served].filter((r) => !documented.has(r))
  const extra = [...documented].filter((r) => !served.has(r))
  assert.deepEqual(missing, [], 'routes missing from the document')
  assert.deepEqual(extra, [], 'documented operations the server does not route')
})
