/** AWS events as Lambda hands them to the handlers, for tests that invoke a handler or a bundle. */
import type { ScheduledEvent, SQSEvent } from 'aws-lambda';

/** What an EventBridge schedule delivers (the handlers read it as "the whole fleet, as configured"). */
export const scheduledEvent: ScheduledEvent = {
  version: '0',
  id: '53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '123456789012',
  time: '2026-11-23T00:00:00Z',
  region: 'eu-west-1',
  resources: ['arn:aws:events:eu-west-1:123456789012:rule/pgwarden'],
  detail: {},
};

/** An SQS event with one record per body; message ids are `m-0`, `m-1`, … */
export function sqsEvent(bodies: string[]): SQSEvent {
  return {
    Records: bodies.map((body, i) => ({
      messageId: `m-${i}`,
      receiptHandle: `r-${i}`,
      body,
      attributes: { ApproximateReceiveCount: '1', SentTimestamp: '0', SenderId: 'x', ApproximateFirstReceiveTimestamp: '0' },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:123456789012:pgwarden-alerts-slack',
      awsRegion: 'eu-west-1',
    })),
  };
}
