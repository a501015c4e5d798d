import { Resource } from 'sst';
import { type Config, loadLinkedConfig } from '../../shared/config/index.ts';

/** A linked secret's value; `Resource` throws for anything not linked to this function, which means "not set". */
export function readLinkedSecret(name: string): string | undefined {
  try {
    const value = (Resource as unknown as Record<string, { value?: unknown } | undefined>)[name]?.value;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The config of a function, read once at cold start: PGWARDEN_* environment with linked secrets on top. */
export function loadFunctionConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return loadLinkedConfig(readLinkedSecret, env);
}
