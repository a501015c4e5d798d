import { DbError } from './errors.ts';

/**
 * A WAL location (`pg_lsn` text, `16/B374D848`) as a byte position, so two can be subtracted into a lag.
 *
 * @example parseLsn('0/3000060') - parseLsn('0/3000000') // 96n
 */
export function parseLsn(lsn: string): bigint {
  const match = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!match) throw new DbError(`expected a WAL location like 16/B374D848, got "${lsn}"`);
  return (BigInt(`0x${match[1]}`) << 32n) + BigInt(`0x${match[2]}`);
}
