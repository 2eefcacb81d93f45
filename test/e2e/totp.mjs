// TOTP (RFC 6238: HMAC-SHA-1, 6 digits, 30 s) computed in the tests from an enrolled secret
// with node:crypto, independently of the server's C code.
import { createHmac } from 'node:crypto'
import { sleep } from './lib.mjs'

export function base32Decode (s) {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  let bits = 0; let acc = 0; const out = []
  for (const ch of s.replace(/=+$/, '').toUpperCase()) {
    const v = alphabet.indexOf(ch)
    if (v < 0) throw new Error(`not base32: ${s}`)
    acc = (acc << 5) | v
    bits += 5
    if (bits >= 8) { bits -= 8; out.push((acc >> bits) & 0xff) }
  }
  return Buffer.from(out)
}

export const stepNow = () => Math.floor(Date.now() / 30000)

// The code of secret (base32) at time step `step`.
export function totp (secret, step = stepNow()) {
  const msg = Buffer.alloc(8)
  msg.writeBigUInt64BE(BigInt(step))
  const mac = createHmac('sha1', base32Decode(secret)).update(msg).digest()
  const off = mac[19] & 15
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, '0')
}

// A code the server has not seen yet for this enrolment: the step after the last one used
// (`state.last`), and never older than now, so that it stays inside the server's window of
// one step either side even when a step boundary passes on the way.  Only when the last one
// used is already a step ahead does it wait for the clock (at most one step).
export async function freshCode (secret, state) {
  let now = stepNow()
  const step = Math.max((state.last ?? 0) + 1, now)
  while (step > now + 1) { await sleep(200); now = stepNow() }
  state.last = step
  return totp(secret, step)
}
