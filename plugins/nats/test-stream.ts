import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type Authenticator, type MsgHdrs } from '@nats-io/transport-node';

/** One message as a plain JetStream consumer reads it back. */
export interface StreamMessage {
  seq: number;
  subject: string;
  headers: Record<string, string>;
  data: string;
}

function headerRecord(h: MsgHdrs | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!h) return out;
  for (const [k, v] of h) out[k] = v[0] as string;
  return out;
}

/** Every message of `stream`, read with a plain ordered JetStream consumer, in stream order. */
export async function readStream(url: string, stream: string, options: { token?: string; authenticator?: Authenticator } = {}): Promise<StreamMessage[]> {
  const nc = await connect({ servers: url, ...options });
  try {
    const jsm = await jetstreamManager(nc);
    const total = (await jsm.streams.info(stream)).state.messages;
    const out: StreamMessage[] = [];
    if (total === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
    while (out.length < total) {
      const batch = await consumer.fetch({ max_messages: Math.min(1000, total - out.length), expires: 2000 });
      let n = 0;
      for await (const m of batch) {
        n++;
        out.push({ seq: m.seq, subject: m.subject, headers: headerRecord(m.headers), data: m.string() });
      }
      if (n === 0) throw new Error(`read ${out.length} of ${total} messages of ${stream}, then nothing more came`);
    }
    return out;
  } finally {
    await nc.close();
  }
}

/** Deletes a stream the test created (ignores one that is gone). */
export async function deleteStream(url: string, stream: string): Promise<void> {
  const nc = await connect({ servers: url });
  try {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}
