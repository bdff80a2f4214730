import { definePlugin } from 'praxis-agent';
import { AuditLogPlugin } from './audit-log.plugin';
import { auditCommands } from './commands';
import { auditLogConfigSchema } from './config';

export default definePlugin({
  name: 'audit-log',
  version: '0.1.0',
  description: 'Appends matching events to a hash-chained, tamper-evident JSONL audit log; `audit verify` and `audit tail` read it.',
  configSchema: auditLogConfigSchema,
  commands: auditCommands,
  plugin: AuditLogPlugin,
});
