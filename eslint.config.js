// @ts-check
const eslint = require('@eslint/js');
const tseslint = require('typescript-eslint');
const globals = require('globals');

module.exports = tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  eslint.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Plugins are written against the public SDK only, exactly like third-party plugins.
    files: ['plugins/**/*.ts', 'examples/**/*.ts', 'test/fixtures/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/src/**', '../../src', '../../../src'], message: "Import from 'praxis-agent' (the public SDK), not from the core's files." }] }],
    },
  },
  {
    // The only core modules a built-in plugin may import besides the SDK, for what no third-party
    // plugin needs: a CLI command reading the agent's config, and a server of its own checking a
    // bearer token as the admin server does (README, "Writing a plugin").
    files: ['plugins/audit-log/commands.ts', 'plugins/websocket-broadcaster/websocket-broadcaster.plugin.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '(^|/)src(/(?!(config/loader|http/auth)$)|$)', message: "Import from 'praxis-agent' (the public SDK), not from the core's files." }] }],
    },
  },
  {
    // The dashboard runs in the browser (bundled by dashboard/build.mjs).
    files: ['dashboard/**/*.ts'],
    languageOptions: { globals: { ...globals.browser } },
  },
  {
    files: ['**/*.js'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
