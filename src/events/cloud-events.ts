import { uuidv7 } from '../common/ids.js';

/** The event types of CONTRACT §7. */
export const EVENT_TYPES = [
  'account.status.changed',
  'account.status.change_failed',
  'account.status.drifted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_SOURCE = 'statusgate';

/** `data` of account.status.changed (and, with errorCode, of account.status.change_failed). */
export interface ChangeEventData {
  changeId: string;
  batchId: string | null;
  provider: string;
  accountId: string;
  status: string;
  reason: string | null;
  outcome: 'APPLIED' | 'ACCEPTED' | 'FAILED' | 'UNFINISHED';
  providerStatus: unknown;
  callerId: string;
  requestId: string;
  errorCode?: string;
}

/** `data` of account.status.drifted (CONTRACT §8). */
export interface DriftEventData {
  provider: string;
  accountId: string;
  expectedStatus: string;
  observedStatus: string | null;
  observedProviderStatus: unknown;
  lastChangeId: string;
}

/** An event as the outbox stores it; `toCloudEvent` gives its CloudEvents 1.0 structured form. */
export interface EventRecord {
  id: string;
  type: EventType;
  subject: string;
  time: string;
  data: ChangeEventData | DriftEventData;
}

/** CloudEvents 1.0, structured JSON mode (CONTRACT §7). */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: typeof EVENT_SOURCE;
  type: EventType;
  subject: string;
  time: string;
  datacontenttype: 'application/json';
  data: ChangeEventData | DriftEventData;
}

export function toCloudEvent(event: EventRecord): CloudEvent {
  return {
    specversion: '1.0',
    id: event.id,
    source: EVENT_SOURCE,
    type: event.type,
    subject: event.subject,
    time: event.time,
    datacontenttype: 'application/json',
    data: event.data,
  };
}

export function subjectOf(provider: string, accountId: string): string {
  return `${provider}/${accountId}`;
}

/** The facts of a change attempt an event repeats (from a NewAttempt or a stored row alike). */
export interface ChangeFacts {
  changeId: string;
  batchId?: string | null;
  provider: string;
  accountId: string;
  status: string;
  reason: string | null;
  callerId: string;
  requestId: string;
}

/** The event of a change attempt that ended: changed (APPLIED, ACCEPTED) or change_failed (FAILED, UNFINISHED). */
export function changeEvent(
  change: ChangeFacts,
  end: {
    outcome: ChangeEventData['outcome'];
    providerStatus?: unknown;
    errorCode?: string | null;
    completedAt: string;
  },
): EventRecord {
  const failed = end.outcome === 'FAILED' || end.outcome === 'UNFINISHED';
  const data: ChangeEventData = {
    changeId: change.changeId,
    batchId: change.batchId ?? null,
    provider: change.provider,
    accountId: change.accountId,
    status: change.status,
    reason: change.reason,
    outcome: end.outcome,
    providerStatus: end.providerStatus ?? null,
    callerId: change.callerId,
    requestId: change.requestId,
  };
  if (failed) data.errorCode = end.errorCode ?? end.outcome;
  return {
    id: uuidv7(),
    type: failed ? 'account.status.change_failed' : 'account.status.changed',
    subject: subjectOf(change.provider, change.accountId),
    time: end.completedAt,
    data,
  };
}

/** The event of a drift found by the drift watch (CONTRACT §8). */
export function driftEvent(data: DriftEventData, time = new Date().toISOString()): EventRecord {
  return {
    id: uuidv7(),
    type: 'account.status.drifted',
    subject: subjectOf(data.provider, data.accountId),
    time,
    data,
  };
}
