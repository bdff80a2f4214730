/**
 * The public API of praxis-agent: the plugin SDK (everything a plugin, built-in or third-party,
 * may use), the event catalogue and its types, and the typed ingest client.
 */
import 'reflect-metadata';

export { inject, injectable } from 'tsyringe';
export { z } from 'zod';

export { AgentControl } from './agent/agent-control';
export type { ReloadResult, ReloadStatus } from './agent/agent-control';
export { Bus } from './bus/bus';
export type { EventHandler, OverflowPolicy, SubscribeOptions, Unsubscribe } from './bus/bus';
export { EVENT_PATTERN, eventPatternSchema, eventTypeMatcher } from './bus/pattern';
export { Clock, FakeClock, SystemClock } from './core/clock';
export { Backoff, retry } from './core/backoff';
export type { BackoffOptions, RetryInfo, RetryOptions } from './core/backoff';
export { MAX_PEM_FILE_BYTES, MAX_SECRET_FILE_BYTES, readConfigFile, readSecretFile } from './core/config-files';
export type { ConfigFileOptions } from './core/config-files';
export type { CancelTimer } from './core/clock';
export { isTimeoutError, runOnce, settledWithin, TimeoutError, withTimeout } from './core/timed';
export { ensureDir } from './core/ensure-dir';
export { AgentError, ERROR_CODES, errorMessage } from './core/errors';
export { bearerTokenSchema, durationSchema } from './config/schema';
export type { ErrorCode, ErrorCodeMap, ErrorCodeTable } from './core/errors';
export type { Logger } from './core/logger';
export { coreEventSchemas } from './events/catalogue';
export type { EventMetadata, EventMetadataInput } from './events/metadata';
export { EventRegistry } from './events/registry';
export type { FieldIssue } from './events/registry';
export type {
  CoreEventInputMap,
  CoreEventMap,
  Event,
  EventFor,
  EventInputMap,
  EventMap,
  EventOf,
  EventPattern,
  EventType,
} from './events/types';
export { DEFAULT_SECRET_KEY_PATTERNS, isSecretKey, redactSecrets, redactText, redactValue } from './core/redact';
export { HttpError } from './http/reply';
export { isNotifier } from './alerting/notifier';
export { httpOutcome, parseRetryAfter } from './alerting/http-outcome';
export { sinkRequest } from './alerting/http-request';
export type { SinkRequest, SinkResponse, TlsOptions } from './alerting/http-request';
export { compileTemplate, templateData, TemplateError, templateSchema } from './alerting/templates';
export type { NotificationTemplate, TemplateAlert, TemplateData } from './alerting/templates';
export type { AlertmanagerIntegration, DeliverySettings, Notifier, SinkDeclaration } from './alerting/notifier';
export type { ConfigChange, Notification, NotificationAlert, NotifyReason, SinkResult } from './alerting/notification';
export type { AcknowledgementView } from './alerting/alerting-api';
export { ALERTING_STATE, AlertingState, canonicalJson } from './alerting/replica';
export type { AlertingReplica, AlertingStateChange, AlertingStateKind, MergeReport, RemoteAlertingItem } from './alerting/replica';
export { definePlugin } from './plugin/definition';
export type { CommandIo, Plugin, PluginClass, PluginCommand, PluginConfig, PluginDefinition } from './plugin/definition';
export { HttpRoutes } from './plugin/http-routes';
export type { RouteHandler, RouteOptions } from './plugin/http-routes';
export { On } from './plugin/on-event.decorator';
export { LOGGER, PLUGIN_CONFIG, PLUGIN_NAME, PREVIOUS_STATE } from './plugin/tokens';
export { EVENT_STORE, EventStore, MAX_READ_LIMIT } from './store/event-store';
export { AGENT_TAG_PREFIX, FleetInbox, fleetOrigin } from './fleet/fleet-inbox';
export type { FleetInboxStats, FleetReceipt } from './fleet/fleet-inbox';
export type { ReadOptions, ReadResult, StoredEvent, StoreListener } from './store/event-store';

export { AgentClient, AgentClientError } from './client/agent-client';
export { agentAdminUrl, agentBearerToken } from './client/agent-connection';
export type { AgentConnectionOptions } from './client/agent-connection';
export type { AcceptedEvent, EventInput, EventsPage, EventsQuery, IngestResult, ReadyResult, RejectedEvent } from './client/agent-client';
