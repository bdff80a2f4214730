import { definePlugin } from 'praxis-agent';
import { AuditLogPlugin } from './audit-log.plugin';
import { auditCommands } from './commands';
import { auditLogConfigSchema } from './config';
import { AUDIT_ERRORS } from './errors';

export default definePlugin({
  name: 'audit-log',
  version: '0.1.0',
  description: 'Appends matching events to a hash-chained, tamper-evident JSONL audit log; `audit verify` and `audit tail` read it.',
  configSchema: auditLogConfigSchema,
  errors: AUDIT_ERRORS,
  commands: auditCommands,
  plugin: AuditLogPlugin,
});
