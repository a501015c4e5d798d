import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { buildApp, interceptLocalhostDns } from 'fauxqs';

export interface LocalQueues {
  /** http://127.0.0.1:PORT — give it to SQSClient as `endpoint`. */
  endpoint: string;
  client: SQSClient;
  /** One queue per channel, as deployed. */
  queueUrls: Record<string, string>;
  dlqUrl: string;
  close(): Promise<void>;
}

/** Credentials the emulator accepts; they open nothing real. */
export const LOCAL_SQS_CREDENTIALS = { accessKeyId: 'local', secretAccessKey: 'local' };

/**
 * An in-process SQS-compatible server (`fauxqs`) on 127.0.0.1 with one queue per channel and a shared DLQ
 * (redrive after `maxReceiveCount` receives), mirroring infra/queue.ts.
 */
export async function startLocalQueues(options: {
  channels: readonly string[];
  maxReceiveCount?: number;
  visibilityTimeoutSeconds?: number;
  prefix?: string;
}): Promise<LocalQueues> {
  // fauxqs' own CLI binds 0.0.0.0; building the app and listening ourselves keeps it on loopback.
  const app = buildApp({ logger: false, defaultRegion: 'us-east-1' });
  // Its queue URLs name `sqs.<region>.localhost`, which the SDK calls directly. Names under `.localhost` are
  // loopback by definition (RFC 6761), but not every resolver knows it: resolve exactly those in-process.
  const restoreDns = interceptLocalhostDns('localhost');
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new SQSClient({ endpoint, region: 'us-east-1', credentials: LOCAL_SQS_CREDENTIALS });
  const prefix = options.prefix ?? 'pgwarden-local';
  const dlq = await client.send(new CreateQueueCommand({ QueueName: `${prefix}-alerts-dlq` }));
  const dlqUrl = dlq.QueueUrl as string;
  const dlqArn = (await client.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['QueueArn'] }))).Attributes
    ?.QueueArn as string;
  const queueUrls: Record<string, string> = {};
  for (const channel of options.channels) {
    const created = await client.send(
      new CreateQueueCommand({
        QueueName: `${prefix}-alerts-${channel}`,
        Attributes: {
          VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? 30),
          RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? 5 }),
        },
      }),
    );
    queueUrls[channel] = created.QueueUrl as string;
  }
  return {
    endpoint,
    client,
    queueUrls,
    dlqUrl,
    async close() {
      client.destroy();
      await app.close();
      restoreDns();
    },
  };
}
