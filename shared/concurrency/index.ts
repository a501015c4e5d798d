export type { Limiter } from './limiter.ts';
export { createLimiter, mapWithConcurrency } from './limiter.ts';
