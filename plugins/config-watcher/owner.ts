import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

let passwd: Map<number, string> | undefined;

/**
 * The user name of a uid: the current user's from the OS, others from /etc/passwd; `uid:1234`
 * when neither knows it (containers often run with uids that have no entry).
 */
export function userNameOf(uid: number): string {
  try {
    const me = userInfo();
    if (me.uid === uid) return me.username;
  } catch {
    // no entry for the current uid either
  }
  passwd ??= readPasswd();
  return passwd.get(uid) ?? `uid:${uid}`;
}

function readPasswd(): Map<number, string> {
  const users = new Map<number, string>();
  try {
    for (const line of readFileSync('/etc/passwd', 'utf8').split('\n')) {
      const [name, , uid] = line.split(':');
      if (name && uid && /^\d+$/.test(uid)) users.set(Number(uid), name);
    }
  } catch {
    // not a Unix system, or no permission: fall back to uid:N
  }
  return users;
}
