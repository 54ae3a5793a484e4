/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { target: 'es2022', parser: { syntax: 'typescript' } }, module: { type: 'commonjs' } },
    ],
  },
  moduleFileExtensions: ['ts', 'js', 'json'],
  // Builds dist/ once per run for the tests that spawn built entry points (check-keys, the bot).
  globalSetup: '<rootDir>/tests/global-setup.ts',
  testTimeout: 20000,
  // Suites start servers on free ports; two workers keep CI machines (2 cores) busy without oversubscribing.
  maxWorkers: 2,
  watchman: false,
};
