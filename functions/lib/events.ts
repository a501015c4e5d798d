import type { z } from 'zod';

/**
 * True for what EventBridge delivers: a Scheduler target's default input or a rule's event
 * (`source`, `detail-type`). Those mean "the whole fleet, as configured".
 */
function isScheduledEvent(event: unknown): boolean {
  if (event === null || event === undefined) return true;
  if (typeof event !== 'object' || Array.isArray(event)) return false;
  const record = event as Record<string, unknown>;
  if (Object.keys(record).length === 0) return true;
  return 'detail-type' in record || record.source === 'aws.events' || record.source === 'aws.scheduler';
}

/** A manual payload that does not fit its schema: the message lists every problem. */
export class PayloadError extends Error {
  override name = 'PayloadError';
}

/**
 * Parses a function's event: a scheduled event gives `{}` (every default), a manual payload must match `schema`
 * exactly (unknown keys are refused, so a typo is not silently ignored).
 *
 * @example parseInvocation(event, z.strictObject({ dryRun: z.boolean().optional() }))
 */
export function parseInvocation<T extends z.ZodType>(event: unknown, schema: T): z.output<T> & { scheduled: boolean } {
  if (isScheduledEvent(event)) return { ...(schema.parse({}) as object), scheduled: true } as z.output<T> & { scheduled: boolean };
  const result = schema.safeParse(event);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(payload)'}: ${issue.message}`);
    throw new PayloadError(`invalid payload: ${problems.join('; ')}`);
  }
  return { ...(result.data as object), scheduled: false } as z.output<T> & { scheduled: boolean };
}

/** Narrows a fleet to the clusters a manual payload names; an unknown name is an error, not a silent no-op. */
export function pickClusters<C extends { name: string }>(clusters: readonly C[], names: readonly string[] | undefined): C[] {
  if (!names || names.length === 0) return [...clusters];
  const unknown = names.filter((name) => !clusters.some((c) => c.name === name));
  if (unknown.length > 0) {
    throw new PayloadError(
      `unknown cluster${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (configured: ${clusters.map((c) => c.name).join(', ') || 'none'})`,
    );
  }
  return clusters.filter((c) => names.includes(c.name));
}
