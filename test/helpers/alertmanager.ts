import { spawn } from 'node:child_process';
import readline from 'node:readline';

/** A real Alertmanager (Debian's prometheus-alertmanager, installed by .ci/run) to compare with. */
export interface RunningAlertmanager {
  /** Its base URL, e.g. http://127.0.0.1:41234. */
  url: string;
  /** Kills it and waits for the exit. */
  stop(): Promise<void>;
}

/** Starts Alertmanager on `configFile` on a free loopback port, without clustering; resolves once it listens. */
export async function startAlertmanager(configFile: string, storagePath: string): Promise<RunningAlertmanager> {
  const child = spawn('prometheus-alertmanager', [`--config.file=${configFile}`, `--storage.path=${storagePath}`, '--web.listen-address=127.0.0.1:0', '--cluster.listen-address='], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`alertmanager exited (${code})`)));
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      const address = /msg="Listening on" address=(\S+)/.exec(line)?.[1];
      if (address) resolve(`http://${address}`);
    });
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}
