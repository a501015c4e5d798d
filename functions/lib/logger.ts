import { Logger as PowertoolsLogger } from '@aws-lambda-powertools/logger';
import type { FunctionName } from '../../shared/invoke/names.ts';
import type { LogFields, Logger } from '../../shared/log/index.ts';
import { redact } from '../../shared/redact/index.ts';
import { serviceName } from './metric-names.ts';

function redactFields(fields: LogFields | undefined): LogFields {
  if (!fields) return {};
  // Powertools serialises objects itself; redact through one JSON round trip so nested secrets are caught too.
  return JSON.parse(
    redact(JSON.stringify(fields, (_key, value) => (value instanceof Error ? { name: value.name, message: value.message } : value))),
  );
}

/** Adapts Powertools' Logger (JSON lines with the Lambda context) to the Logger port shared/ writes to. */
export function adaptPowertools(logger: PowertoolsLogger): Logger {
  return {
    debug: (message, fields) => logger.debug(redact(message), redactFields(fields)),
    info: (message, fields) => logger.info(redact(message), redactFields(fields)),
    warn: (message, fields) => logger.warn(redact(message), redactFields(fields)),
    error: (message, fields) => logger.error(redact(message), redactFields(fields)),
    child: (fields) => adaptPowertools(logger.createChild({ persistentKeys: redactFields(fields) as Record<string, string> })),
  };
}

/** One Powertools logger per function, at module scope (kept across warm invocations). */
export function createFunctionLogger(fn: FunctionName): { powertools: PowertoolsLogger; logger: Logger } {
  const powertools = new PowertoolsLogger({
    serviceName: serviceName(fn),
    logLevel: (process.env.PGWARDEN_LOG_LEVEL ?? 'INFO').toUpperCase() as 'INFO',
  });
  return { powertools, logger: adaptPowertools(powertools) };
}
