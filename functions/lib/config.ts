import { Resource } from 'sst';
import { type Config, loadLinkedConfig, readLinkedSecret } from '../../shared/config/index.ts';

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
