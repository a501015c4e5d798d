import { createSenderHandler } from './lib/sender.ts';

/** Subscriber of the Loki alerts queue (partial batch responses). */
export const handler = createSenderHandler('loki');
