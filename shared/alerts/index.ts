export { ALERT_PATH_CONCURRENCY, controlDbPool, createControlDb, HAND_OFF_CONNECTIONS } from './control-pool.ts';
export { AlertError, AlertPublishError, AlertStateError, rethrowCause } from './errors.ts';
export type { AlertEvent, AlertRule, AlertStatus, Channel, DeliveryMessage, NewAlertEvent, Severity } from './event.ts';
export { alertEventSchema, CHANNELS, createAlertEvent, dedupKey, deliveryMessageSchema, RULES, SEVERITIES, STATUSES } from './event.ts';
export type { EventLineFields } from './event-line.ts';
export { describeWouldSend, formatEventLine } from './event-line.ts';
export type { LifecyclePublished } from './lifecycle-publish.ts';
export { applyAndPublish } from './lifecycle-publish.ts';
export type { AlertPublisher, PublishResult, RecordedAlerts } from './publisher.ts';
export { createLogPublisher } from './publisher.ts';
export type {
  AlertAction,
  AlertDecision,
  AlertState,
  AlertStateStatus,
  AlertStateStore,
  AlertStateStoreOptions,
  ApplyLifecycleInput,
  LifecycleTiming,
} from './state.ts';
export {
  createAlertStateStore,
  createMemoryAlertStateStore,
  decideAlert,
  decideAlerts,
  eventsToSend,
  isSendingAction,
  previewAlerts,
} from './state.ts';
export { alertStateMigration } from './state-migration.ts';
