// Browser entry point, bundled by build.mjs into dist/page.js. The page's
// query string carries the parameters; progress goes to window.reportEvent
// (exposed by the driver through playwright) and the final results to
// window.results, which the driver polls with page.waitForFunction.
import { runChecks } from './checks.js'

const q = new URLSearchParams(window.location.search)
const results = []
const emit = (e) => {
  try { window.reportEvent?.(JSON.stringify(e)) } catch {}
}

window.results = undefined
runChecks({
  addr: q.get('addr'),
  topic: q.get('topic'),
  sendText: q.get('send'),
  expectText: q.get('expect'),
  stepMs: Number(q.get('step_ms') ?? 20000),
  report: (r) => { results.push(r); emit({ event: 'js_check', ...r }) },
  emit,
  remoteSawSubscription: () => window.remoteSawSubscription()
}).then(
  () => { window.results = { ok: true, userAgent: navigator.userAgent, checks: results } },
  (err) => { window.results = { ok: false, error: String(err?.stack ?? err), checks: results } }
)
