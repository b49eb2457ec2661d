// Layer rules of DESIGN.md: a layer imports only the layers listed before it; pure layers do no I/O.
const LAYERS = ['common', 'api', 'cel', 'catalog', 'inventory', 'allocator', 'scheduler', 'sim', 'telemetry', 'governance', 'store', 'gateway', 'server', 'cli']
const PURE = ['allocator', 'scheduler', 'sim', 'governance']
const IO_MODULES = '^(node:)?(fs|fs/promises|net|http|https|http2|child_process|dgram|dns|tls|cluster|worker_threads|readline)$'

const upward = LAYERS.map((layer, i) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${LAYERS.slice(0, i).join(', ') || 'nothing of ours'}`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}))
// The last layer has nothing above it.
const rules = upward.filter((r) => !r.to.path.endsWith('()/'))

module.exports = {
  forbidden: [
    ...rules,
    {
      name: 'pure-layers-do-no-io',
      comment: `${PURE.join(', ')} take a snapshot and return results: no disks, sockets or processes`,
      severity: 'error',
      from: { path: `^src/(${PURE.join('|')})/` },
      to: { dependencyTypes: ['core'], path: IO_MODULES },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
}
