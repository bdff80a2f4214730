import { JetStreamApiError, type JetStreamManager, type StreamConfig as JsStreamConfig, type StreamInfo } from '@nats-io/jetstream';
import { millis, nanos } from '@nats-io/transport-node';
import { AgentError, errorMessage } from 'praxis-agent';
import type { StreamConfig } from './config';
import { streamSubjects } from './wire';

/** JetStream's "stream not found" API error code. */
const STREAM_NOT_FOUND = 10059;

/** One setting of an existing stream that differs from the config. */
export interface StreamDifference {
  key: string;
  expected: unknown;
  actual: unknown;
}

/** The stream settings the config asks for, in JetStream's terms. */
export function desiredStream(stream: StreamConfig, prefix: string): Partial<JsStreamConfig> & { name: string } {
  return {
    name: stream.name,
    subjects: streamSubjects(prefix),
    retention: stream.retention,
    max_age: nanos(stream.max_age),
    max_bytes: stream.max_bytes,
    num_replicas: stream.replicas,
    duplicate_window: nanos(stream.duplicate_window),
  };
}

/** What differs between the config and an existing stream (empty when they agree). Durations are compared in ms. */
export function streamDifferences(stream: StreamConfig, prefix: string, actual: JsStreamConfig): StreamDifference[] {
  const out: StreamDifference[] = [];
  const expectSubjects = streamSubjects(prefix);
  const actualSubjects = [...(actual.subjects ?? [])].sort();
  if (actualSubjects.join('\n') !== [...expectSubjects].sort().join('\n')) out.push({ key: 'subjects', expected: expectSubjects, actual: actualSubjects });
  const check = (key: string, expected: unknown, value: unknown): void => {
    if (expected !== value) out.push({ key, expected, actual: value });
  };
  check('retention', stream.retention, actual.retention);
  check('max_age', stream.max_age, millis(actual.max_age ?? 0));
  check('max_bytes', stream.max_bytes, actual.max_bytes);
  check('replicas', stream.replicas, actual.num_replicas);
  check('duplicate_window', stream.duplicate_window, millis(actual.duplicate_window ?? 0));
  return out;
}

/**
 * Creates the stream when it does not exist (and `create` allows), else checks it: a difference
 * in subjects, retention, max_age, max_bytes, replicas or duplicate_window is NATS_STREAM_MISMATCH,
 * never a silent update (other agents, or an operator, rely on the stream as it is).
 */
export async function ensureStream(jsm: JetStreamManager, stream: StreamConfig, prefix: string): Promise<StreamInfo> {
  let info: StreamInfo | undefined;
  try {
    info = await jsm.streams.info(stream.name);
  } catch (error) {
    if (!(error instanceof JetStreamApiError) || error.code !== STREAM_NOT_FOUND) throw error;
  }
  if (info) {
    const diffs = streamDifferences(stream, prefix, info.config);
    if (diffs.length > 0) throw mismatch(stream.name, diffs);
    return info;
  }
  if (!stream.create) {
    throw new AgentError('NATS_STREAM_MISSING', `JetStream stream ${stream.name} does not exist and stream.create is false: create it (nats stream add ${stream.name} --subjects '${streamSubjects(prefix)[0]}') or set stream.create: true`, { stream: stream.name });
  }
  try {
    return await jsm.streams.add(desiredStream(stream, prefix));
  } catch (error) {
    // Another agent created it meanwhile: check it like an existing one.
    const again = await jsm.streams.info(stream.name).catch(() => undefined);
    if (!again) throw new AgentError('NATS_STREAM_MISMATCH', `cannot create JetStream stream ${stream.name}: ${errorMessage(error)}`, { stream: stream.name }, { cause: error });
    const diffs = streamDifferences(stream, prefix, again.config);
    if (diffs.length > 0) throw mismatch(stream.name, diffs);
    return again;
  }
}

function mismatch(name: string, diffs: StreamDifference[]): AgentError {
  const list = diffs.map((d) => `${d.key}: config ${JSON.stringify(d.expected)}, stream ${JSON.stringify(d.actual)}`).join('; ');
  return new AgentError(
    'NATS_STREAM_MISMATCH',
    `JetStream stream ${name} exists with other settings than the config (${list}); the agent does not change a stream: make the config's stream.* match it, or change the stream yourself (nats stream edit ${name}) if every agent of the fleet agrees`,
    { stream: name, differences: diffs },
  );
}
