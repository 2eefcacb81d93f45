// Response validation against the server's own OpenAPI document: every response a test
// checks through `checked()` must be a documented status of its operation, and its body
// must match the documented schema (ajv, JSON Schema 2020-12, as OpenAPI 3.1 uses).
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

export async function contract (api, http) {
  const doc = (await http(api, 'GET', '/v1/openapi.json')).body
  const ajv = new Ajv2020({ strict: false, allErrors: true })
  addFormats(ajv)
  ajv.addSchema({ ...doc, $id: 'openapi' })
  // Literal segments win over parameters, as in the router: fewest parameters first.
  const templates = Object.keys(doc.paths).map((t) => ({
    t,
    params: (t.match(/\{/g) || []).length,
    re: new RegExp('^' + t.replace(/\{[^}]+\}/g, '[^/]+') + '$')
  })).sort((a, b) => a.params - b.params)
  const seen = new Set()
  const esc = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1')
  function check (method, path, r) {
    const p = path.split('?')[0]
    const tpl = templates.find((x) => x.re.test(p))
    if (!tpl) throw new Error(`${method} ${p}: not in the document`)
    const op = doc.paths[tpl.t][method.toLowerCase()]
    if (!op) throw new Error(`${method} ${tpl.t}: method not documented`)
    const resp = op.responses[String(r.status)]
    if (!resp) throw new Error(`${method} ${tpl.t}: status ${r.status} not documented (${r.text.slice(0, 200)})`)
    seen.add(`${method} ${tpl.t} ${r.status}`)
    const ctype = (r.headers.get('content-type') || '').split(';')[0]
    const media = resp.content && (resp.content[ctype] || resp.content['application/json'])
    if (!media || !r.text) return
    const ref = `openapi#/paths/${esc(tpl.t)}/${method.toLowerCase()}/responses/${r.status}/content/${esc(resp.content[ctype] ? ctype : 'application/json')}/schema`
    const ok = ajv.validate({ $ref: ref }, ctype.includes('json') ? r.body : r.text)
    if (!ok) throw new Error(`${method} ${tpl.t} ${r.status}: ${ajv.errorsText(ajv.errors)} in ${r.text.slice(0, 300)}`)
  }
  // A drop-in for http() that validates what comes back.
  async function checked (h, method, path, opts) {
    const r = await http(h, method, path, opts)
    check(method, path, r)
    return r
  }
  return { checked, seen, doc }
}
