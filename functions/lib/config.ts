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

/** The linked app (`Resource.App`: SST's app name and stage), or undefined outside an SST function. */
export function readLinkedApp(): { name: string; stage: string } | undefined {
  try {
    const app = (Resource as unknown as Record<string, { name?: unknown; stage?: unknown } | undefined>).App;
    return typeof app?.name === 'string' && typeof app.stage === 'string' ? { name: app.name, stage: app.stage } : undefined;
  } catch {
    return undefined;
  }
}
