/**
 * The fleet scenario's bare consumer: a durable pull consumer on a stream (explicit acks, pulled in
 * batches), acknowledging each message, nothing else; as its own process, as the aggregator is.
 * Usage: node bare-nats-consumer.js <url> <stream> <filter subject> <durable> <count> <batch>.
 * Prints `ready` once consuming and `done <count>` after the last ack was flushed.
 */
import { AckPolicy, DeliverPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

async function main(): Promise<void> {
  const [url = '', stream = '', filter = '', durable = '', countText = '0', batchText = '100'] = process.argv.slice(2);
  const count = Number(countText);
  const nc = await connect({ servers: url });
  const jsm = await jetstreamManager(nc);
  await jsm.consumers.add(stream, { durable_name: durable, ack_policy: AckPolicy.Explicit, deliver_policy: DeliverPolicy.All, filter_subject: filter, max_ack_pending: 1000 });
  const consumer = await jetstream(nc).consumers.get(stream, durable);
  const messages = await consumer.consume({ max_messages: Number(batchText) });
  console.log('ready');
  let seen = 0;
  for await (const m of messages) {
    m.ack();
    if (++seen >= count) break;
  }
  await nc.flush();
  console.log(`done ${seen}`);
  await nc.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
