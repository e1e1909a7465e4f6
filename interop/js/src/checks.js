// The js-libp2p side of the strata interop checks: one source, used by
// Node.js (run.mjs) and by the browser bundle (browser.js).
//
// createNode() builds a js-libp2p node with the transports named in
// `transports` (see TRANSPORTS below), Noise, yamux, identify, ping and
// gossipsub. runChecks() dials a strata `peer`, then:
//   ping -> identify -> subscribe -> wait for the remote's subscription and
//   for the remote to see ours -> publish -> wait for the mesh -> ask the driver to make strata publish ->
//   wait for strata's message.
// Every step is bounded by a timeout; every step reports one result object
// { check, ok, ms, ...details } through `report`, and progress events
// through `emit` (the driver reacts to { event: 'want_remote_publish' }).

import { createLibp2p } from 'libp2p'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub } from '@libp2p/gossipsub'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'

// Transports by name. To add one: install its package, add an entry here
// (a factory, imported lazily so that Node never loads what only a browser
// case uses) and, in .ci/js, its listen address and a case. `matches` tells
// which dial addresses the transport serves.
export const TRANSPORTS = {
  ws: {
    factory: async () => webSockets(),
    matches: (ma) => /\/tcp\/\d+\/ws(\/|$)/.test(ma)
  },
  'webrtc-direct': {
    // In the browser only: in Node it needs node-datachannel's native
    // build, which `npm ci --ignore-scripts` does not make.
    factory: async () => (await import('@libp2p/webrtc')).webRTCDirect(),
    matches: (ma) => ma.includes('/webrtc-direct/')
  }
}

export function transportFor (addr) {
  for (const [name, t] of Object.entries(TRANSPORTS)) {
    if (t.matches(addr)) return name
  }
  throw new Error(`no transport in TRANSPORTS serves ${addr}`)
}

// js-libp2p's browser default gater refuses plain ws:// and private
// addresses; the tests only ever dial 127.0.0.1, so allow loopback and
// refuse everything else (in Node too: nothing leaves the machine).
function loopbackOnly (ma) {
  const s = ma.toString()
  return !(s.startsWith('/ip4/127.') || s.startsWith('/ip6/::1/'))
}

export async function createNode ({ transports = ['ws'] } = {}) {
  return createLibp2p({
    addresses: { listen: [] },
    transports: await Promise.all(transports.map((name) => {
      const t = TRANSPORTS[name]
      if (t == null) throw new Error(`unknown transport ${name}`)
      return t.factory()
    })),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionGater: { denyDialMultiaddr: loopbackOnly },
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        // strata signs with StrictSign, js' default; say so anyway.
        globalSignaturePolicy: 'StrictSign',
        allowPublishToZeroTopicPeers: false,
        emitSelf: false
      })
    }
  })
}

function withTimeout (promise, ms, what) {
  let timer
  return Promise.race([
    promise,
    new Promise((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
    })
  ]).finally(() => clearTimeout(timer))
}

// Resolves once pred() is true, re-checking whenever `target` fires one of
// `events`; bounded by `ms`.
function waitFor (target, events, pred, ms, what) {
  return withTimeout(new Promise((resolve) => {
    const check = () => {
      if (pred()) {
        for (const e of events) target.removeEventListener(e, check)
        resolve()
      }
    }
    for (const e of events) target.addEventListener(e, check)
    check()
  }), ms, what)
}

const text = (bytes) => new TextDecoder().decode(bytes)

/**
 * @param {object} o
 * @param {string} o.addr        the strata peer's address, ending in /p2p/<id>
 * @param {string} o.topic       gossipsub topic
 * @param {string} o.sendText    what js publishes
 * @param {string} o.expectText  what strata will publish (js waits for it)
 * @param {number} [o.stepMs]    timeout of each step
 * @param {(r: object) => void} o.report   one call per check
 * @param {(e: object) => void} o.emit     progress events
 * @param {() => Promise<unknown>} o.remoteSawSubscription  resolves once
 *        strata printed `subscribed` for this node (the driver reads it)
 */
export async function runChecks ({ addr, topic, sendText, expectText, stepMs = 20000, report, emit, remoteSawSubscription }) {
  const transport = transportFor(addr)
  const node = await createNode({ transports: [transport] })
  const pubsub = node.services.pubsub
  const remoteId = addr.split('/p2p/').pop()
  const t0 = Date.now()
  const step = async (check, fn) => {
    const start = Date.now()
    try {
      const details = await fn()
      report({ check, ok: true, ms: Date.now() - start, ...details })
      return true
    } catch (err) {
      report({ check, ok: false, ms: Date.now() - start, error: String(err?.stack ?? err) })
      return false
    }
  }

  // Messages from strata, collected from the start so none is missed.
  const received = []
  pubsub.addEventListener('message', (evt) => {
    const m = evt.detail
    received.push({
      topic: m.topic,
      data: text(m.data),
      from: m.type === 'signed' ? m.from.toString() : null,
      signed: m.type === 'signed'
    })
    emit({ event: 'js_message', topic: m.topic, data: text(m.data) })
  })

  // js-libp2p identifies every new connection by itself (and allows one
  // outbound identify stream at a time): take that result, collected from
  // the start, rather than racing it with a second request.
  const identified = []
  node.addEventListener('peer:identify', (evt) => {
    if (evt.detail.peerId.toString() === remoteId) identified.push(evt.detail)
  })

  try {
    emit({ event: 'js_started', peer_id: node.peerId.toString(), transport })
    let conn
    const connected = await step('connect', async () => {
      conn = await withTimeout(node.dial(multiaddr(addr)), stepMs, `dial ${addr}`)
      const got = conn.remotePeer.toString()
      if (got !== remoteId) throw new Error(`dialed ${remoteId}, answered by ${got}`)
      return { transport, remote_addr: conn.remoteAddr.toString(), multiplexer: conn.multiplexer, encryption: conn.encryption }
    })
    if (!connected) return

    await step('ping', async () => {
      const rtt = await withTimeout(node.services.ping.ping(conn.remotePeer), stepMs, 'ping')
      return { rtt_ms: rtt }
    })

    await step('identify', async () => {
      await waitFor(node, ['peer:identify'], () => identified.length > 0, stepMs, "strata's identify")
      const r = identified[0]
      const protocols = [...r.protocols].sort()
      if (!r.agentVersion?.startsWith('strata/')) throw new Error(`agentVersion ${JSON.stringify(r.agentVersion)} does not start with strata/ (protocols ${protocols.join(' ')})`)
      const need = ['/ipfs/id/1.0.0', '/ipfs/ping/1.0.0']
      const missing = need.filter((p) => !protocols.includes(p))
      if (!protocols.some((p) => p.startsWith('/meshsub/'))) missing.push('/meshsub/*')
      if (missing.length > 0) throw new Error(`protocols lack ${missing.join(', ')}: ${protocols.join(' ')}`)
      return { agent_version: r.agentVersion, protocol_version: r.protocolVersion, protocols }
    })

    pubsub.subscribe(topic)
    emit({ event: 'js_subscribed', topic })

    const remoteSubscribed = await step('js sees strata subscribed', async () => {
      await waitFor(pubsub, ['subscription-change'],
        () => pubsub.getSubscribers(topic).some((p) => p.toString() === remoteId),
        stepMs, `strata's subscription to ${topic}`)
      return { topic }
    })
    if (!remoteSubscribed) return

    // Our subscription reached strata only once our outbound gossipsub
    // stream to it is open; js' publish skips peers without one. The driver
    // tells when strata printed `subscribed` for us.
    const bothSubscribed = await step('strata sees js subscribed, before publishing', async () => {
      await withTimeout(remoteSawSubscription(), stepMs, "strata's subscribed event for us")
      return { topic }
    })
    if (!bothSubscribed) return

    await step('js publishes', async () => {
      const r = await withTimeout(pubsub.publish(topic, new TextEncoder().encode(sendText)), stepMs, 'publish')
      const to = (r?.recipients ?? []).map(String)
      if (!to.includes(remoteId)) throw new Error(`publish reached ${JSON.stringify(to)}, not strata`)
      return { text: sendText, recipients: to }
    })

    // Strata publishes to its mesh (or to every subscriber): wait until the
    // mesh holds strata on our side too, which GRAFT makes symmetric.
    await step('gossipsub mesh with strata', async () => {
      await waitFor(pubsub, ['gossipsub:graft', 'gossipsub:heartbeat'],
        () => pubsub.getMeshPeers(topic).includes(remoteId),
        stepMs, `strata in the ${topic} mesh`)
      return { mesh: pubsub.getMeshPeers(topic) }
    })

    emit({ event: 'want_remote_publish', topic, text: expectText })
    await step('strata -> js message', async () => {
      const match = () => received.find((m) => m.topic === topic && m.data === expectText)
      await waitFor(pubsub, ['message'], () => match() != null, stepMs, `strata's message ${JSON.stringify(expectText)}`)
      const m = match()
      if (m.from !== remoteId) throw new Error(`message from ${m.from}, expected ${remoteId}`)
      if (!m.signed) throw new Error('message is not signed')
      return { text: m.data, from: m.from }
    })
  } finally {
    emit({ event: 'js_done', secs: (Date.now() - t0) / 1000 })
    await withTimeout(node.stop(), 5000, 'node.stop').catch(() => {})
  }
}
