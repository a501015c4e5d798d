export { WatchdogError, WatchdogOptionsError, WatchdogPublishError } from './errors.ts';
export type { WatchdogJson, WatchdogJsonCheck, WatchdogJsonStats } from './format.ts';
export { formatCheckLine, toWatchdogJson } from './format.ts';
export type { NodeCheck, WatchdogResult } from './result.ts';
export type { RuleTarget } from './rules.ts';
export type { RunWatchdogOptions } from './run.ts';
export { runWatchdog } from './run.ts';
export type { CheckNodeOptions, ConnectionStats, NodeCheckOutcome, TopEntry } from './stats.ts';
export { checkNode } from './stats.ts';
