import { definePlugin } from 'praxis-agent';
import { emailAlertmanagerIntegration } from './alertmanager';
import { emailConfigSchema } from './config';
import { EmailPlugin } from './email.plugin';

export { EmailPlugin } from './email.plugin';

export default definePlugin({
  name: 'email',
  version: '0.1.0',
  description: 'Alert notifications as e-mail (HTML and plain text, one mail per group) through an SMTP server, with nodemailer.',
  configSchema: emailConfigSchema,
  sink: {
    // SMTP servers rarely throttle a handful of mails; set delivery.rate_limit on the entry when yours does.
    delivery: { timeout: 30_000, max_age: 3_600_000 },
    alertmanager: emailAlertmanagerIntegration,
  },
  plugin: EmailPlugin,
});
