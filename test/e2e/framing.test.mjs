// Request framing over a real socket: heads and bodies that a proxy in front of Quill could
// delimit otherwise (request smuggling) are answered 400 and the connection closes, so
// nothing sent after them on that connection is read as a request.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { start, stop, http, raw, responses } from './lib.mjs'

let api
before(async () => { api = await start('quill-api') })
after(async () => { await stop(api) })

const NEXT = 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n'

// Sends head (and what follows it) then a valid request on the same connection: the only
// answer is a 400 problem, and the server closes the connection.
async function refused (head, why) {
  const r = await raw(api.port, head + NEXT)
  const all = responses(r.data)
  assert.equal(all.length, 1, `${why}: one answer, not one for the request after it: ${JSON.stringify(r.data)}`)
  assert.match(all[0], /^HTTP\/1\.1 400 /, why)
  assert.match(all[0], /\r\nContent-Type: application\/problem\+json/, why)
  assert.match(all[0], /"code":"malformed_request"/, why)
  assert.match(all[0], /\r\nConnection: close\r\n/, why)
  assert.equal(r.closed, true, `${why}: the connection closes`)
}

test('a line ended by a bare LF (no CR) anywhere in a request is 400 and closes', async () => {
  await refused('GET /livez HTTP/1.1\nHost: x\r\n\r\n', 'request line')
  await refused('GET /livez HTTP/1.1\r\nHost: x\r\n\n', 'end of the head')
  await refused('GET /livez HTTP/1.0\n\n', 'HTTP/1.0 without headers')
  await refused('\nGET /livez HTTP/1.1\r\nHost: x\r\n\r\n', 'empty line before the request')
  await refused('POST /livez HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\n{}', 'before a body')
  await refused('POST /livez HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\n', 'end of a chunked body')
  // the same lines with CRLF, and empty CRLF lines between requests, are fine
  const ok = await raw(api.port, 'GET /livez HTTP/1.1\r\nHost: x\r\n\r\n\r\n' + NEXT, { timeout: 1000 })
  assert.deepEqual(responses(ok.data).map((s) => s.slice(0, 12)), ['HTTP/1.1 200', 'HTTP/1.1 200'])
  assert.equal((await http(api, 'GET', '/livez')).status, 200)
})

test('a CONNECT, a fragment in the target and Transfer-Encoding in HTTP/1.0 are 400 and close', async () => {
  // llhttp reads what follows a CONNECT head as a tunnel, which would then be parsed as the
  // next request, while a proxy in front reads it as the CONNECT's body
  const smuggled = 'GET /v1/version HTTP/1.1\r\nHost: x\r\n\r\n'
  await refused(`CONNECT /livez HTTP/1.1\r\nHost: x\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`, 'CONNECT')
  await refused('GET /livez#top HTTP/1.1\r\nHost: x\r\n\r\n', 'fragment')
  await refused('GET /livez?a=1#top HTTP/1.1\r\nHost: x\r\n\r\n', 'fragment after a query')
  await refused('POST /livez HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n', 'HTTP/1.0 chunked')
})

test('a target in absolute form is answered as its path', async () => {
  const r = await raw(api.port, 'GET http://example.com/livez HTTP/1.1\r\nHost: x\r\n\r\n' +
    'GET HTTP://example.com:8080/v1/version?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
  const all = responses(r.data)
  assert.equal(all.length, 2, JSON.stringify(r.data))
  assert.match(all[0], /^HTTP\/1\.1 200 /)
  assert.match(all[1], /^HTTP\/1\.1 200 /)
  assert.match(all[1], /"gitSha"/)
  await refused('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n', 'asterisk form')
})
