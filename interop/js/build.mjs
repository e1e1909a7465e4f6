// Bundles src/browser.js (and with it src/checks.js and js-libp2p's browser
// builds) into dist/page.js plus dist/index.html.
import { build } from 'esbuild'
import { mkdir, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const dist = join(here, 'dist')
await mkdir(dist, { recursive: true })
await build({
  entryPoints: [join(here, 'src', 'browser.js')],
  outfile: join(dist, 'page.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: 'inline',
  logLevel: 'warning',
  define: { 'process.env.NODE_DEBUG': 'undefined', global: 'globalThis' }
})
await writeFile(join(dist, 'index.html'),
  '<!doctype html><meta charset="utf-8"><title>strata interop</title><script type="module" src="page.js"></script>\n')
console.log(`bundled ${join(dist, 'page.js')}`)
