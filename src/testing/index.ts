/**
 * Test helpers for plugin authors: `import { createPluginHarness, runPluginConformance } from 'praxis-agent/testing'`.
 * The conformance suite needs jest (`@jest/globals`); the harness and samples work with any runner.
 */
export { FakeClock } from '../core/clock';
export { selfSignedCert } from './certificates';
export type { TestCertificate } from './certificates';
export { runPluginConformance } from './conformance';
export { createPluginHarness, PluginHarness } from './harness';
export type { HarnessOptions } from './harness';
export { sampleEvents } from './samples';
export { waitFor } from './wait';
export type { WaitForOptions } from './wait';
/** The real event store, for plugin tests that need replay (`createPluginHarness(def, { store })`). */
export { SqliteEventStore } from '../store/sqlite-event-store';
