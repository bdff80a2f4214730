/**
 * Whether a browser origin may open a WebSocket. Browsers let any page connect to any WebSocket
 * (no CORS), so without this check every web page a user visits could read the event stream of a
 * local agent. Allowed: the configured origins ("*": any), and the dashboard's: the admin server's
 * port on the host name the browser used to reach this server (localhost, 127.0.0.1 or a LAN name
 * alike), which is where the page that opened the socket was loaded from.
 */
export function originAllowed(origin: string | undefined, allowed: readonly string[], dashboard: { adminPort?: number; host?: string }): boolean {
  if (origin === undefined) return true; // not a browser
  if (allowed.includes('*') || allowed.includes(origin)) return true;
  if (dashboard.adminPort === undefined || dashboard.host === undefined) return false;
  let page: URL;
  try {
    page = new URL(origin);
  } catch {
    return false;
  }
  const pagePort = page.port === '' ? (page.protocol === 'https:' ? 443 : 80) : Number(page.port);
  return pagePort === dashboard.adminPort && page.hostname === hostnameOf(dashboard.host);
}

/** The host name of a Host header (`[::1]:9781` → `[::1]`, as URL.hostname spells it). */
function hostnameOf(hostHeader: string): string | undefined {
  try {
    return new URL(`http://${hostHeader}`).hostname;
  } catch {
    return undefined;
  }
}
