/**
 * Every scenario, in run order. To add one (e.g. alerting: event → request at a local Slack-like server):
 * write `bench/scenarios/<name>.ts` exporting a {@link Scenario} whose `unavailable()` names the
 * missing component until it exists, and list it here.
 */
import type { Scenario } from '../harness';
import { alertingScenario } from './alerting';
import { busScenario } from './bus';
import { durableScenario } from './durable';
import { fanoutIngestScenario } from './fanout-ingest';
import { fleetScenario } from './fleet';
import { fleetForwardScenario } from './fleet-forward';
import { ingestScenario } from './ingest';
import { latencyScenario } from './latency';
import { startupScenario } from './startup';
import { storeScenario } from './store';
import { websocketScenario } from './websocket';

export const SCENARIOS: Scenario[] = [busScenario, websocketScenario, storeScenario, startupScenario, ingestScenario, durableScenario, fanoutIngestScenario, latencyScenario, alertingScenario, fleetForwardScenario, fleetScenario];
