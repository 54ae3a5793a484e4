/**
 * The layering rules (docs/architecture.md), checked by `npm run deps` inside `npm test`.
 * Arrows point down: bot/ → storage/ → providers/' types and ports; bot/ → providers/.
 * Type-only imports count: a layer that names another's types depends on it.
 */
const ADAPTER = '^providers/(?!router/|shared/)[^/]+/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'No import cycle between files, type-only imports included.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'core-imports-no-outer-layer',
      comment: 'providers/ is the core: it imports nothing from storage/, bot/, scripts/, bench/ or tests/.',
      severity: 'error',
      from: { path: '^providers/' },
      to: { path: '^(storage|bot|scripts|bench|tests)/' },
    },
    {
      name: 'storage-sees-only-core-types-and-ports',
      comment:
        'storage/ implements the ports: of the core it may use providers/types.ts and providers/ports.ts only (no router internals, no adapter).',
      severity: 'error',
      from: { path: '^storage/' },
      to: { path: '^providers/', pathNot: '^providers/(types|ports)\\.ts$' },
    },
    {
      name: 'storage-imports-no-outer-layer',
      comment: 'storage/ never imports the application, the tools or the tests.',
      severity: 'error',
      from: { path: '^storage/' },
      to: { path: '^(bot|scripts|bench|tests)/' },
    },
    {
      name: 'application-uses-public-faces',
      comment:
        'bot/ and scripts/ reach the core through providers/index.ts and storage through storage/index.ts, never their internals.',
      severity: 'error',
      from: { path: '^(bot|scripts)/' },
      to: { path: '^(providers|storage)/', pathNot: '^(providers|storage)/index\\.ts$' },
    },
    {
      name: 'product-loads-no-test-code',
      comment: 'The bot and its command-line tools never load tests/, bench/ or the demo.',
      severity: 'error',
      from: { path: '^(bot|providers|storage)/|^scripts/(chat|check-keys)\\.ts$' },
      to: { path: '^(tests|bench)/|^scripts/demo' },
    },
    {
      name: 'bot-imports-no-tools',
      comment: 'bot/ does not import the command-line tools or benchmarks.',
      severity: 'error',
      from: { path: '^bot/' },
      to: { path: '^(scripts|bench)/' },
    },
    {
      name: 'router-names-no-adapter',
      comment: 'The router never imports an adapter: everything provider-specific stays in its folder.',
      severity: 'error',
      from: { path: '^providers/(router|shared)/' },
      to: { path: ADAPTER },
    },
    {
      name: 'adapters-are-independent',
      comment: 'An adapter uses the port (types.ts) and providers/shared/, never another adapter or the router.',
      severity: 'error',
      from: { path: '^providers/(?!router/|shared/)([^/]+)/' },
      to: { path: '^providers/(router/|registry|index|ports)|' + ADAPTER, pathNot: '^providers/$1/' },
    },
    {
      name: 'product-uses-no-dev-dependency',
      comment: 'What npm start runs must not need a devDependency.',
      severity: 'error',
      from: { path: '^(bot|providers|storage)/|^scripts/(chat|check-keys)\\.ts$' },
      to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] },
    },
    {
      name: 'no-unresolvable',
      comment: 'Every import resolves.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|dist-tools|node_modules|coverage)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
