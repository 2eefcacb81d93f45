// Headless Chromium for the end-to-end tests (playwright-core driving Debian's chromium):
// a throwaway profile, no background traffic, and a record of every request a page makes
// so a test can prove that nothing left loopback.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'

export const LOOPBACK = /^(https?|wss?):\/\/(127\.\d+\.\d+\.\d+|localhost|\[::1\])(:\d+)?\//

// Run fn(context, requests) with a fresh Chromium; requests collects every URL asked for.
export async function withBrowser (fn) {
  const { chromium } = await import('playwright-core')
  const profile = mkdtempSync(join(tmpdir(), 'quill-chromium-'))
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--no-first-run']
  })
  const requests = []
  context.on('request', (req) => requests.push(req.url()))
  try {
    return await fn(context, requests)
  } finally {
    await context.close()
    rmSync(profile, { recursive: true, force: true })
  }
}

// A loopback web server that serves one HTML page at / (another origin than quill-api's).
export async function pageServer (html) {
  const server = createServer((req, res) => {
    if (req.url !== '/') { res.writeHead(404); res.end(); return }
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(html)
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${server.address().port}`
  return { origin, close: () => new Promise((resolve) => server.close(resolve)) }
}
