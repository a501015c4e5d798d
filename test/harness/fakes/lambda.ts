/**
 * A loopback fake of the Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), reached by the real
 * `@aws-sdk/client-lambda` through `AWS_ENDPOINT_URL_LAMBDA` or the `endpoint` option.
 *
 * Behaves like Lambda for synchronous calls: the function's result as the body with `X-Amz-Executed-Version`;
 * a function error as 200 with `X-Amz-Function-Error: Unhandled` (or `Handled`) and the `{ errorType, errorMessage,
 * trace }` body; the last 4 KB of the log in base64 `X-Amz-Log-Result` (START/END/REPORT lines included) when
 * `X-Amz-Log-Type: Tail`; 404 `ResourceNotFoundException` for an unknown name; 400
 * `InvalidRequestContentException` for a body that is not JSON; 413 `RequestTooLargeException` over 6 MB.
 * Names may be given as a name, a full or partial ARN, with or without a qualifier.
 *
 * Not covered: SigV4 signatures are not validated (any credentials work); asynchronous (`Event`) and `DryRun`
 * invocation types are refused with 400 rather than emulated; no throttling (429), timeouts, versions or aliases
 * beyond echoing the qualifier; response streaming and `ClientContext` are ignored.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** What a fake function does: return a result, or fail like a thrown error, with optional log lines. */
export type FakeFunctionOutcome =
  | { result: unknown; logs?: string }
  | { error: { errorType: string; errorMessage: string; trace?: string[] }; kind?: 'Unhandled' | 'Handled'; logs?: string };

export type FakeFunction = (event: unknown) => FakeFunctionOutcome | Promise<FakeFunctionOutcome>;

export interface RecordedInvocation {
  functionName: string;
  qualifier: string | undefined;
  invocationType: string;
  logType: string | undefined;
  /** The event as sent (parsed JSON). */
  event: unknown;
}

export interface FakeLambda {
  /** `http://127.0.0.1:PORT`: the value for `AWS_ENDPOINT_URL_LAMBDA`. */
  url: string;
  invocations: RecordedInvocation[];
  /** Adds or replaces a function. */
  setFunction(name: string, fn: FakeFunction): void;
  close(): Promise<void>;
}

const MAX_PAYLOAD = 6 * 1024 * 1024;
const LOG_TAIL_BYTES = 4096;

function sendError(res: ServerResponse, status: number, type: string, message: string): void {
  res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-errortype': type, 'x-amzn-requestid': randomUUID() });
  res.end(JSON.stringify({ Type: 'User', message }));
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** `my-fn`, `my-fn:prod`, `123:function:my-fn`, `arn:aws:lambda:r:123:function:my-fn:prod` → name and qualifier. */
function parseFunctionRef(ref: string): { name: string; qualifier: string | undefined } {
  const parts = ref.split(':');
  const at = parts.indexOf('function');
  const rest = at === -1 ? parts : parts.slice(at + 1);
  return { name: rest[0] ?? '', qualifier: rest[1] };
}

function logTail(requestId: string, lines: string | undefined): string {
  const body = lines ? (lines.endsWith('\n') ? lines : `${lines}\n`) : '';
  const text = `START RequestId: ${requestId} Version: $LATEST\n${body}END RequestId: ${requestId}\nREPORT RequestId: ${requestId}\tDuration: 1.00 ms\tBilled Duration: 2 ms\tMemory Size: 256 MB\tMax Memory Used: 64 MB\t\n`;
  const bytes = Buffer.from(text, 'utf8');
  return bytes.subarray(Math.max(0, bytes.length - LOG_TAIL_BYTES)).toString('base64');
}

/** Starts the fake on 127.0.0.1 with the given functions, by name. */
export async function startFakeLambda(options: { functions?: Record<string, FakeFunction>; region?: string } = {}): Promise<FakeLambda> {
  const functions = new Map<string, FakeFunction>(Object.entries(options.functions ?? {}));
  const region = options.region ?? 'us-east-1';
  const invocations: RecordedInvocation[] = [];

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, 'ServiceException', String(error));
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const match = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (req.method !== 'POST' || !match) {
      sendError(res, 404, 'UnknownOperationException', `no such operation: ${req.method} ${url.pathname}`);
      return;
    }
    const ref = parseFunctionRef(decodeURIComponent(match[1] ?? ''));
    const qualifier = url.searchParams.get('Qualifier') ?? ref.qualifier;
    const body = await readBody(req);
    const fn = functions.get(ref.name);
    if (!fn) {
      sendError(res, 404, 'ResourceNotFoundException', `Function not found: arn:aws:lambda:${region}:123456789012:function:${ref.name}`);
      return;
    }
    if (body.length > MAX_PAYLOAD) {
      sendError(res, 413, 'RequestTooLargeException', 'Request must be smaller than 6291456 bytes for the InvokeFunction operation');
      return;
    }
    const invocationType = String(req.headers['x-amz-invocation-type'] ?? 'RequestResponse');
    if (invocationType !== 'RequestResponse') {
      sendError(res, 400, 'InvalidParameterValueException', `the fake Lambda only emulates RequestResponse, not ${invocationType}`);
      return;
    }
    let event: unknown = null;
    if (body.length > 0) {
      try {
        event = JSON.parse(body.toString('utf8'));
      } catch {
        sendError(res, 400, 'InvalidRequestContentException', 'Could not parse request body into json');
        return;
      }
    }
    const logType = req.headers['x-amz-log-type'] as string | undefined;
    invocations.push({ functionName: ref.name, qualifier, invocationType, logType, event });

    const requestId = randomUUID();
    let outcome: FakeFunctionOutcome;
    try {
      outcome = await fn(event);
    } catch (error) {
      const e = error instanceof Error ? error : new Error(String(error));
      outcome = { error: { errorType: e.name, errorMessage: e.message, trace: (e.stack ?? '').split('\n') } };
    }
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-amz-executed-version': qualifier ?? '$LATEST',
      'x-amzn-requestid': requestId,
    };
    if (logType === 'Tail') headers['x-amz-log-result'] = logTail(requestId, outcome.logs);
    if ('error' in outcome) {
      headers['x-amz-function-error'] = outcome.kind ?? 'Unhandled';
      res.writeHead(200, headers);
      res.end(
        JSON.stringify({ errorType: outcome.error.errorType, errorMessage: outcome.error.errorMessage, trace: outcome.error.trace ?? [] }),
      );
      return;
    }
    res.writeHead(200, headers);
    // A handler that returns undefined answers `null`, as Lambda's Node.js runtime does.
    res.end(JSON.stringify(outcome.result ?? null));
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    invocations,
    setFunction(name, fn) {
      functions.set(name, fn);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
