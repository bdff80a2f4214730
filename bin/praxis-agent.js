#!/usr/bin/env node
'use strict';
let cli;
try {
  cli = require('./load-bundle.js').loadBundle().exports.cli;
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

cli.main(process.argv).then(
  (code) => exitAfterFlush(code),
  (error) => {
    process.stderr.write(`praxis-agent: ${error && error.message ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
