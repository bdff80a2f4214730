/**
 * The `error_code` of the system.error events health-probe publishes and of its service.status
 * metrics. Declared in this plugin's `definePlugin({ errors })`; the README's error table and
 * /stats list them under the plugin's name.
 */
export const HEALTH_ERRORS = {
  HEALTH_HTTP_STATUS: 'An http check got a status outside its expect_status set.',
  HEALTH_HTTP_BODY: 'An http check got a body without body_contains, not matching body_matches, not JSON, or with a json path of another value.',
  HEALTH_TIMEOUT: 'A check did not finish within its timeout and was cut off (request aborted, command killed).',
  HEALTH_CONNECT_REFUSED: 'An http or tcp check found nobody listening on the port (connection refused).',
  HEALTH_CONNECT_FAILED: 'An http or tcp check could not connect or lost the connection (unreachable host, reset, unknown name).',
  HEALTH_TLS: 'An https check could not verify the server certificate (untrusted, wrong host name); see tls_verify and ca_file.',
  HEALTH_CERT_EXPIRING: 'An https certificate expires within cert_expiry_warning: the service is degraded and one warning is raised.',
  HEALTH_CERT_EXPIRED: 'An https certificate has expired (seen with tls_verify: false; with verification it fails as HEALTH_TLS).',
  HEALTH_EXEC_FAILED: 'An exec check exited non-zero, was killed, or could not be started.',
  HEALTH_PROCESS: 'A process check found no live process for its pid_file or process_name.',
  HEALTH_DNS: 'A dns check name did not resolve, or not to any expect_address.',
  HEALTH_HEARTBEAT_MISSED: 'A heartbeat check got no report (service.heartbeat, POST /heartbeat/<check>) within its window.',
} as const;

type HealthErrors = typeof HEALTH_ERRORS;

declare module 'praxis-agent' {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ErrorCodeMap extends HealthErrors {}
}
