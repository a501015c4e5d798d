import { createSenderHandler } from './lib/sender.ts';

/** Subscriber of the Slack alerts queue (partial batch responses). */
export const handler = createSenderHandler('slack');
