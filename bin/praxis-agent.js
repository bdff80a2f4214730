#!/usr/bin/env node
'use strict';
const bundle = require('./load-bundle.js');
// Before the bundle loads: its code cache was written with the same V8 flags (see load-bundle.js).
bundle.holdYoungGeneration();
let cli;
try {
  cli = bundle.loadBundle().exports.cli;
} catch (error) {
  if (error && error.code === 'ENOENT' && String(error.path).endsWith('praxis-agent.js')) {
    process.stderr.write('praxis-agent: not built yet; run `npm run build` (npm ci does it for you)\n');
    process.exit(1);
  }
  throw error;
}
// Exit only once stdout and stderr have flushed: a pipe (`schema --config | jq`) is written asynchronously.
function exitAfterFlush(code) {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

// `start` releases the young generation once the agent is ready; the other commands are short or light.
cli.main(process.argv, undefined, { started: bundle.releaseYoungGeneration }).then(
  (code) => exitAfterFlush(code),
  (error) => {
    process.stderr.write(`praxis-agent: ${error && error.message ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
