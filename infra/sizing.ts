/**
 * Memory, timeout and batching of each deployed function, with the reasons. Pure (no SST globals), so the numbers
 * that depend on each other (queue visibility vs sender timeout, timeout vs schedule) are checked in one place.
 *
 * Lambda gives CPU in proportion to memory (1,769 MB = one vCPU); these functions wait on the network far more
 * than they compute, so memory is chosen for import time and parallel connections, not for heap.
 */
import type { FunctionName } from '../shared/invoke/names.ts';

export interface FunctionSizing {
  memoryMb: number;
  timeoutSeconds: number;
}

export const FUNCTION_SIZING: Record<FunctionName, FunctionSizing> = {
  // Checks up to `watchdog.concurrency` (64) nodes at once; a dead node costs connectTimeout + queryTimeout
  // (5 s + 5 s). 50 s lets 256 unreachable nodes time out and still ends before the next 1-minute run starts.
  // 512 MB: ~0.3 vCPU keeps the cold import of pg + SQS (~80 ms at full speed) short and the TLS handshakes of 64
  // parallel connections from queueing on the CPU.
  watchdog: { memoryMb: 512, timeoutSeconds: 50 },
  // Probes every node (retries 2 × (3 s connect + 3 s query) = 18 s worst case), then writes Kubernetes endpoints.
  // The Kubernetes client is the largest bundle (~110 ms import at full speed): 512 MB keeps its cold start short.
  // 50 s: done before the next 1-minute run.
  topology: { memoryMb: 512, timeoutSeconds: 50 },
  // Selects due ledger rows and re-enqueues them in batches of 10: a few queries and SQS calls.
  sweep: { memoryMb: 256, timeoutSeconds: 30 },
  // Run by hand (`pgwarden invoke requeue`), possibly for every dead delivery at once: more time, same work as sweep.
  requeue: { memoryMb: 256, timeoutSeconds: 120 },
  // A batch of SLACK_BATCH.size messages, each one HTTPS POST with a 10 s timeout (slack.timeout) plus two ledger
  // writes: 60 s covers the whole batch sent one after the other.
  'send-slack': { memoryMb: 256, timeoutSeconds: 60 },
  // Same shape as send-slack for LOKI_BATCH.size pushes (loki.timeout 10 s).
  'send-loki': { memoryMb: 256, timeoutSeconds: 60 },
};

export interface SenderBatch {
  /** Messages per invocation. */
  size: number;
  /** How long Lambda gathers messages before invoking with a partial batch. */
  windowSeconds: number;
  /** Most concurrent invocations the queue's event source mapping starts (2 is the least SQS allows). */
  maximumConcurrency: number;
}

/**
 * Slack incoming webhooks take about one message per second per webhook and answer 429 beyond: small batches and
 * at most 2 concurrent senders keep a burst of alerts (a failover fires several) close to that rate.
 */
export const SLACK_BATCH: SenderBatch = { size: 5, windowSeconds: 1, maximumConcurrency: 2 };

/** Loki ingests far faster than alerts are made; a larger batch and a few senders. */
export const LOKI_BATCH: SenderBatch = { size: 10, windowSeconds: 1, maximumConcurrency: 5 };

/**
 * A message stays invisible for this long once a sender took it. AWS: "set the source queue's visibility timeout
 * to at least six times the timeout that you configure on your function", so a throttled or retried invocation
 * never sees its batch reappear mid-flight
 * (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html).
 */
export function visibilityTimeoutSeconds(sender: 'send-slack' | 'send-loki'): number {
  return 6 * FUNCTION_SIZING[sender].timeoutSeconds;
}

/**
 * Receives before SQS moves a message to the dead-letter queue. The delivery ledger, not SQS, retries failed sends
 * (the sweeper re-enqueues them); this redrive only catches messages no sender can process (malformed, crash loops).
 */
export const QUEUE_MAX_RECEIVES = 5;

/** How long the dead-letter queue keeps a message: SQS's maximum, so nothing is lost before someone looks. */
export const DLQ_RETENTION_SECONDS = 14 * 24 * 3600;
