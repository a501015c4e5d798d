/**
 * What a watchdog run found, shared by the run (which fills it) and the formatter (which prints it); it imports
 * neither, so the two do not import each other.
 */
import type { AlertEvent } from '../alerts/index.ts';
import type { ConnectionStats, NodeCheckOutcome } from './stats.ts';

/** One node's check in a run. */
export interface NodeCheck {
  cluster: string;
  node: string;
  /** `host:port`. */
  address: string;
  outcome: NodeCheckOutcome['kind'];
  stats: ConnectionStats | null;
  /** Why the node could not be checked (secret-free), or null. */
  error: string | null;
  durationMs: number;
  /** The events sent for this node in this run (in dry-run: the ones that would have been sent). */
  events: AlertEvent[];
}

/** A whole run: every node checked, what was published, what went wrong outside the nodes. */
export interface WatchdogResult {
  checks: NodeCheck[];
  /** Events handed to the publisher. */
  published: number;
  /** `stateful` when the alert state decided what to send, `stateless` when every breach was reported. */
  lifecycle: 'stateful' | 'stateless';
  /** Failures that are not a node's: the control database or the publisher (secret-free, one line each).
   * Any entry makes the CLI exit 1, and `--json` lists them. */
  problems: string[];
}
