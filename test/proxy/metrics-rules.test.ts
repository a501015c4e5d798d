/**
 * The Prometheus alert rules for the proxy (infra/prometheus/pgwarden-proxy.rules.yaml): promtool accepts them
 * and its unit tests prove each rule fires on the series it is written for and not on the look-alikes
 * (pgwarden-proxy.rules.test.yaml); every rule carries a pgwarden severity and says what happened and what to do.
 * That the series they read are the ones a running proxy exports is checked in metrics.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

const DIR = path.resolve(import.meta.dirname, '../../infra/prometheus');
const RULES = path.join(DIR, 'pgwarden-proxy.rules.yaml');
const RULE_TESTS = path.join(DIR, 'pgwarden-proxy.rules.test.yaml');

/** promtool comes with Debian's `prometheus` package (`apt-get install prometheus`). */
const promtool = spawnSync('promtool', ['--version']).status === 0;

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function rules(): AlertRule[] {
  const document = parse(readFileSync(RULES, 'utf8')) as { groups: Array<{ rules: AlertRule[] }> };
  return document.groups.flatMap((g) => g.rules);
}

function run(args: string[]): { status: number | null; output: string } {
  const result = spawnSync('promtool', args, { encoding: 'utf8', cwd: DIR });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('proxy alert rules', () => {
  it.skipIf(!promtool)('pass promtool check rules (needs promtool from the prometheus package)', () => {
    const checked = run(['check', 'rules', RULES]);
    expect(checked.output).toContain(`SUCCESS: ${rules().length} rules found`);
    expect(checked.status).toBe(0);
  });

  it.skipIf(!promtool)('fire on the input each is written for, and only then (promtool test rules)', () => {
    const tested = run(['test', 'rules', RULE_TESTS]);
    expect(tested.output).not.toContain('FAILED');
    expect(tested.status).toBe(0);
    // Every rule is exercised by at least one unit test.
    const tests = readFileSync(RULE_TESTS, 'utf8');
    for (const rule of rules()) expect(tests, rule.alert).toContain(`alertname: ${rule.alert}`);
  });

  it('cover the failures issue 13 names, each with a pgwarden severity, a summary and a description', () => {
    const all = rules();
    expect(all.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'PgwardenProxyDown',
        'PgwardenProxyNoPrimary',
        'PgwardenProxySplitBrainUnresolved',
        'PgwardenProxySplitBrainResolved',
        'PgwardenProxyNodeDown',
        'PgwardenProxyReplicaLagHigh',
        'PgwardenProxyClientsNearLimit',
        'PgwardenProxyRefusalsRising',
      ]),
    );
    for (const rule of all) {
      expect(['critical', 'warning', 'info'], rule.alert).toContain(rule.labels?.severity);
      expect(rule.annotations?.summary, rule.alert).toBeTruthy();
      expect(rule.annotations?.description, rule.alert).toBeTruthy();
      // A page waits for its condition to hold; only the informational failover notice fires at once.
      if (rule.labels?.severity !== 'info') expect(rule.for, rule.alert).toMatch(/^\d+[smh]$/);
    }
  });
});
