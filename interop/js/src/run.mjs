#!/usr/bin/env node
// The driver of one case: js-libp2p (in Node.js or in headless Chromium)
// against a strata `peer` that .ci/js started.
//
//   node src/run.mjs --client node|browser --addr MULTIADDR --topic T \
//     --peer-in FIFO --peer-out FILE [--peer-err FILE] [--step-ms N]
//
// --peer-in is the peer's stdin (a FIFO: `publish TOPIC TEXT` lines go
// there), --peer-out its stdout (JSON lines, read as they grow), --peer-err
// its stderr (its tail is printed on failure). Prints one PASS/FAIL line
// per check and a JSON summary; exits 1 on any failure.

import { open, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { dirname, join, extname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { randomBytes } from 'node:crypto'

const here = dirname(fileURLToPath(import.meta.url))
const { values: opt } = parseArgs({
  options: {
    client: { type: 'string', default: 'node' },
    addr: { type: 'string' },
    topic: { type: 'string', default: 'strata-interop' },
    'peer-in': { type: 'string' },
    'peer-out': { type: 'string' },
    'peer-err': { type: 'string' },
    'step-ms': { type: 'string', default: '20000' },
    chromium: { type: 'string', default: '/usr/bin/chromium' },
    dist: { type: 'string', default: join(here, '..', 'dist') }
  }
})
for (const k of ['addr', 'peer-in', 'peer-out']) {
  if (opt[k] == null) { console.error(`run.mjs: --${k} is required`); process.exit(2) }
}
const stepMs = Number(opt['step-ms'])
const label = `${opt.client}/${opt.addr.includes('/webrtc-direct') ? 'webrtc-direct' : 'ws'}`
const nonce = randomBytes(4).toString('hex')
const sendText = `hello strata from js-libp2p ${opt.client} ${nonce}`
const expectText = `hello ${opt.client} js-libp2p from strata ${nonce}`
const log = (...a) => console.log(`[${label}]`, ...a)

// ---- results -------------------------------------------------------------
const checks = []
function record (r) {
  checks.push(r)
  const { check, ok, ms, error, ...details } = r
  const d = ok ? JSON.stringify(details) : error.split('\n')[0]
  console.log(`${ok ? 'PASS' : 'FAIL'} [${label}] ${check} (${ms} ms) ${d}`)
}

// ---- the strata peer's stdout, followed as it grows ------------------------
const peerEvents = []
const peerWaiters = new Set()
let peerBuf = ''
let peerOffset = 0
const peerOut = await open(opt['peer-out'], 'r')
async function pollPeer () {
  const chunk = Buffer.alloc(65536)
  for (;;) {
    const { bytesRead } = await peerOut.read(chunk, 0, chunk.length, peerOffset)
    if (bytesRead === 0) break
    peerOffset += bytesRead
    peerBuf += chunk.subarray(0, bytesRead).toString('utf8')
  }
  let nl
  while ((nl = peerBuf.indexOf('\n')) >= 0) {
    const line = peerBuf.slice(0, nl).trim()
    peerBuf = peerBuf.slice(nl + 1)
    if (line === '') continue
    let e
    try { e = JSON.parse(line) } catch { log('strata stdout (not JSON):', line); continue }
    peerEvents.push(e)
    if (e.event !== 'ping') log('strata event:', line)
    for (const w of peerWaiters) w()
  }
}
// One reader at a time (reads must not overlap: they share the offset).
let following = true
const follower = (async () => {
  while (following) {
    await pollPeer().catch((e) => log('reading peer stdout:', e))
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
})()

function waitPeerEvent (pred, ms, what) {
  return new Promise((resolve, reject) => {
    const check = () => {
      const e = peerEvents.find(pred)
      if (e != null) { cleanup(); resolve(e) }
    }
    const timer = setTimeout(() => { cleanup(); reject(new Error(`timed out after ${ms} ms waiting for strata's ${what}`)) }, ms)
    const cleanup = () => { clearTimeout(timer); peerWaiters.delete(check) }
    peerWaiters.add(check)
    check()
  })
}

async function strataCheck (check, pred, ms, what, describe) {
  const start = Date.now()
  try {
    const e = await waitPeerEvent(pred, ms, what)
    record({ check, ok: true, ms: Date.now() - start, ...describe(e) })
  } catch (err) {
    record({ check, ok: false, ms: Date.now() - start, error: String(err.message ?? err) })
  }
}

// ---- the strata peer's stdin ----------------------------------------------
const peerIn = await open(opt['peer-in'], 'a')
async function strataPublish (topic, text) {
  log(`strata stdin: publish ${topic} ${text}`)
  await peerIn.write(`publish ${topic} ${text}\n`)
}

// ---- reacting to the js side's progress ------------------------------------
let jsPeerId = null
let jsDone
const jsDonePromise = new Promise((resolve) => { jsDone = resolve })
const jsChecks = []
let publishAttempts = 0
let gotStrataMessage = false
const strataSide = []

function onJsEvent (e) {
  switch (e.event) {
    case 'js_started':
      jsPeerId = e.peer_id
      log(`js-libp2p peer ${jsPeerId} over ${e.transport}`)
      // What strata must see of this peer, checked concurrently.
      strataSide.push(
        strataCheck('strata sees js connected', (p) => p.event === 'connected' && p.peer_id === jsPeerId,
          stepMs * 2, 'connected event', (p) => ({ remote_addr: p.remote_addr ?? null })),
        strataCheck('strata identifies js', (p) => p.event === 'identify' && p.peer_id === jsPeerId,
          stepMs * 2, 'identify event', (p) => ({ agent_version: p.agent_version, protocols: p.protocols?.length })),
        strataCheck('strata sees js subscribed', (p) => p.event === 'subscribed' && p.peer_id === jsPeerId && p.topic === opt.topic,
          stepMs * 3, `subscribed event for ${opt.topic}`, () => ({ topic: opt.topic })),
        strataCheck('js -> strata message', (p) => p.event === 'message' && p.topic === opt.topic && p.data === sendText,
          stepMs * 4, `message event ${JSON.stringify(sendText)}`, (p) => {
            if (p.source !== jsPeerId) throw new Error(`source ${p.source}, expected ${jsPeerId}`)
            return { data: p.data, source: p.source }
          })
      )
      break
    case 'js_check':
      { const { event, ...r } = e; jsChecks.push(r); record(r) }
      break
    case 'js_message':
      if (e.data === expectText) gotStrataMessage = true
      break
    case 'want_remote_publish':
      // Strata publishes; if the message has not arrived after a few
      // seconds, it publishes again (a bounded number of times): strata's
      // mesh may lag ours by a heartbeat. The attempt count is reported.
      (async () => {
        while (!gotStrataMessage && publishAttempts < 3) {
          publishAttempts++
          await strataPublish(e.topic, e.text)
          const until = Date.now() + Math.floor(stepMs / 3)
          while (!gotStrataMessage && Date.now() < until) await new Promise((r) => setTimeout(r, 50))
        }
      })().catch((err) => log('strata publish failed:', err))
      break
    case 'js_done':
      jsDone()
      break
    default:
      break
  }
}

// Resolves once strata printed `subscribed` for the js peer on our topic.
function remoteSawSubscription () {
  if (jsPeerId == null) return Promise.reject(new Error('js peer id unknown'))
  return waitPeerEvent((p) => p.event === 'subscribed' && p.peer_id === jsPeerId && p.topic === opt.topic,
    stepMs, `subscribed event for ${opt.topic}`).then(() => true)
}

// ---- the two clients --------------------------------------------------------
const params = { addr: opt.addr, topic: opt.topic, sendText, expectText, stepMs }

async function runInNode () {
  const { runChecks } = await import('./checks.js')
  await runChecks({
    ...params,
    report: (r) => onJsEvent({ event: 'js_check', ...r }),
    emit: onJsEvent,
    remoteSawSubscription
  })
}

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.map': 'application/json' }
async function runInBrowser () {
  const { chromium } = await import('playwright-core')
  // A tiny static server for dist/, on loopback only.
  const server = createServer(async (req, res) => {
    const path = new URL(req.url, 'http://x').pathname
    if (path === '/favicon.ico') { res.writeHead(204).end(); return }
    const name = path === '/' ? 'index.html' : path.slice(1)
    if (name.includes('..') || name.includes('/')) { res.writeHead(404).end(); return }
    try {
      const body = await readFile(join(opt.dist, name))
      res.writeHead(200, { 'content-type': MIME[extname(name)] ?? 'application/octet-stream' }).end(body)
    } catch { res.writeHead(404).end() }
  })
  await new Promise((resolve, reject) => server.listen(0, '127.0.0.1', resolve).on('error', reject))
  const port = server.address().port
  let browser
  try {
    browser = await chromium.launch({
      executablePath: opt.chromium,
      args: ['--no-sandbox', '--headless', '--disable-gpu'],
      timeout: 60000
    })
    log(`chromium ${browser.version()}`)
    const page = await browser.newPage()
    page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') log(`page console.${m.type()}:`, m.text()) })
    page.on('pageerror', (err) => log('page error:', err.message))
    await page.exposeFunction('reportEvent', (json) => onJsEvent(JSON.parse(json)))
    await page.exposeFunction('remoteSawSubscription', remoteSawSubscription)
    const q = new URLSearchParams({ addr: opt.addr, topic: opt.topic, send: sendText, expect: expectText, step_ms: String(stepMs) })
    await page.goto(`http://127.0.0.1:${port}/index.html?${q}`, { timeout: 30000 })
    const handle = await page.waitForFunction(() => window.results, null, { timeout: stepMs * 10, polling: 100 })
    const results = await handle.jsonValue()
    log(`page results: ok=${results.ok} userAgent=${results.userAgent ?? '?'}`)
    if (!results.ok) throw new Error(`page failed: ${results.error}`)
    // Cross-check: the page's own record of its checks matches what it reported.
    if (results.checks.length !== jsChecks.length) throw new Error(`page has ${results.checks.length} checks, ${jsChecks.length} were reported`)
  } finally {
    await browser?.close().catch(() => {})
    server.close()
  }
}

// ---- main -------------------------------------------------------------------
let exitCode = 0
try {
  await (opt.client === 'browser' ? runInBrowser() : runInNode())
  await jsDonePromise
} catch (err) {
  record({ check: `${opt.client} client runs`, ok: false, ms: 0, error: String(err?.stack ?? err) })
}
await Promise.all(strataSide)
following = false
await follower

const expected = ['connect', 'ping', 'identify', 'js sees strata subscribed',
  'strata sees js subscribed, before publishing', 'js publishes',
  'gossipsub mesh with strata', 'strata -> js message',
  'strata sees js connected', 'strata identifies js', 'strata sees js subscribed', 'js -> strata message']
for (const name of expected) {
  if (!checks.some((c) => c.check === name)) record({ check: name, ok: false, ms: 0, error: 'not reached' })
}
const failed = checks.filter((c) => !c.ok)
if (failed.length > 0) exitCode = 1
console.log(`${checks.length - failed.length} passed, ${failed.length} failed [${label}], strata published ${publishAttempts} time(s)`)
await peerIn.close().catch(() => {})
await peerOut.close().catch(() => {})
process.exit(exitCode)
