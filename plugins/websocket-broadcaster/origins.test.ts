import { originAllowed } from './origins';

describe('originAllowed', () => {
  const dashboard = { adminPort: 9780, host: '127.0.0.1:9781' };

  it('lets in clients without Origin, listed origins, any with "*", and the dashboard on the host the browser used', () => {
    expect(originAllowed(undefined, [], dashboard)).toBe(true);
    expect(originAllowed('https://dash.example.com', ['https://dash.example.com'], dashboard)).toBe(true);
    expect(originAllowed('https://anything.example', ['*'], dashboard)).toBe(true);
    expect(originAllowed('http://127.0.0.1:9780', [], dashboard)).toBe(true);
    expect(originAllowed('http://[::1]:9780', [], { adminPort: 9780, host: '[::1]:9781' })).toBe(true);
    expect(originAllowed('http://ops-box.lan:9780', [], { adminPort: 9780, host: 'ops-box.lan:9781' })).toBe(true);
    // The admin server on the default port of its scheme: the origin names no port.
    expect(originAllowed('http://ops-box.lan', [], { adminPort: 80, host: 'ops-box.lan:9781' })).toBe(true);
  });

  it('refuses other origins: another host, another port, an opaque origin, a malformed one, and any browser when there is no admin server', () => {
    expect(originAllowed('http://localhost:9780', [], dashboard)).toBe(false);
    expect(originAllowed('http://127.0.0.1:9781', [], dashboard)).toBe(false);
    expect(originAllowed('https://ops-box.lan', [], { adminPort: 80, host: 'ops-box.lan:9781' })).toBe(false);
    expect(originAllowed('null', [], dashboard)).toBe(false);
    expect(originAllowed('not a url', [], dashboard)).toBe(false);
    expect(originAllowed('http://127.0.0.1:9780', [], { adminPort: 9780, host: undefined })).toBe(false);
    expect(originAllowed('http://127.0.0.1:9780', [], { host: '127.0.0.1:9781' })).toBe(false);
    expect(originAllowed('https://dash.example.com.evil', ['https://dash.example.com'], dashboard)).toBe(false);
  });
});
