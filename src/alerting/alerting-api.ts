import type { AgentError } from '../core/errors';
import type { Alert, PostableAlert } from './alerts';
import type { AlertmanagerConfig } from './config';
import type { GroupView } from './dispatcher';
import type { OutboxRow } from './outbox-store';
import type { PostableSilence, SetResult, Silence, SilenceQuery, SilenceState } from './silences';

/**
 * What the running alerting engine offers its operators: the Alertmanager API v2 routes, the
 * agent's own `/alerts` routes and the CLI (through them) read and steer the engine only through
 * this interface. Every change made through it is persisted and published as an event by the
 * engine.
 */

/** An acknowledgement of a firing alert: reminders stop until the alert changes state or it expires. */
export interface AcknowledgementView {
  /** Who acknowledged. */
  by: string;
  comment: string;
  /** When (RFC 3339). */
  at: string;
  /** When it stops holding (RFC 3339); absent: until the alert changes state. */
  expiresAt?: string;
}

/** How an operator acknowledges an alert. */
export interface AcknowledgementInput {
  by: string;
  comment?: string;
  /** RFC 3339; absent: until the alert changes state. */
  expiresAt?: string;
}

/** An alert with what the engine decided about it, as the APIs show it. */
export interface AlertView {
  alert: Alert;
  /** Receivers of the routes the alert ends at, in tree order (duplicates removed). */
  receivers: string[];
  /** Ids of the active silences muting it. */
  silencedBy: string[];
  /** Fingerprints of the firing alerts inhibiting it. */
  inhibitedBy: string[];
  /** Its acknowledgement, while one holds. */
  acknowledgement?: AcknowledgementView;
}

/** A silence with its state now. */
export type SilenceView = Silence & { state: SilenceState };

/** An aggregation group with the engine's view of each of its alerts. */
export type GroupAlertsView = Omit<GroupView, 'alerts'> & { alerts: AlertView[] };

/** The engine's operations; implemented by the alerting engine, used by the HTTP routes. */
export interface AlertingApi {
  /** When the engine started (ms since the epoch). */
  readonly startedAt: number;
  /** The Alertmanager configuration in effect. */
  readonly config: AlertmanagerConfig;
  /** That configuration as YAML (`config.original` of `GET /api/v2/status`), secrets redacted. */
  readonly configText: string;
  /** Every known alert that is pending, firing, or resolved and not yet forgotten. */
  alerts(): AlertView[];
  /** Alertmanager's postable alerts (`POST /api/v2/alerts`); valid ones are taken even when others are not. */
  postAlerts(alerts: readonly PostableAlert[]): { errors: AgentError[] };
  /** The aggregation groups now. */
  groups(): GroupAlertsView[];
  silences(query?: SilenceQuery): SilenceView[];
  silence(id: string): SilenceView | undefined;
  /** Creates or updates a silence. @throws SilenceError `invalid` or `not_found`. */
  setSilence(input: PostableSilence, author?: string): SetResult;
  /** @throws SilenceError `not_found`. */
  expireSilence(id: string): void;
  /**
   * Acknowledges a firing alert.
   * @throws AgentError ALERT_NOT_FOUND (no such fingerprint) or ALERT_INVALID (not firing, bad expiry).
   */
  acknowledge(fingerprint: string, input: AcknowledgementInput): AlertView;
  /** Receiver names, in config order. */
  receivers(): string[];
  /** Deliveries in the outbox in a state, oldest first. */
  deliveries(state: OutboxRow['state'], limit?: number): OutboxRow[];
  /** Sends a dead-lettered delivery again. @throws AgentError DELIVERY_NOT_FOUND or DELIVERY_NOT_DEAD. */
  retryDelivery(id: number): OutboxRow;
  /**
   * Sends a clearly marked test notification to a receiver through the real pipeline (outbox, rate
   * limit, sinks) and answers each sink's outcome once every delivery ended or `waitMs` passed.
   * @throws AgentError RECEIVER_NOT_FOUND when there is no such receiver.
   */
  sendTest(receiver: string, waitMs: number): Promise<TestDeliveryResult[]>;
}

/** What one sink did with a test notification. */
export interface TestDeliveryResult {
  sink: string;
  delivery_id: number;
  /** `pending`: still being tried when the wait ended (see GET /alerts/deliveries). */
  outcome: 'delivered' | 'permanent' | 'expired' | 'pending';
  attempts: number;
  reason?: string;
}
