import { describe, expect, it } from '@jest/globals';
import { Metrics } from '../../bot/metrics';
import { allPanels, exposedMetrics, queriedMetrics, readGrafanaDashboard } from '../helpers/grafana';

/** The metrics of a process on Redis (the intake's gauges exist only there), as /metrics serves them. */
async function exposition(): Promise<string> {
  const metrics = new Metrics({
    poolStats: async () => ({
      day: '2026-01-01',
      providers: [],
      dailyCapacity: 0,
      leftToday: 0,
      keysWithUnknownLimit: 0,
      activeUsersToday: 0,
      topUsers: [],
    }),
    storageUp: () => true,
    now: Date.now,
    intake: () => ({ backlog: 0, backlogLimit: 10, polling: true }),
  });
  return metrics.registry.metrics();
}

describe('the Grafana dashboard (ops/grafana/switchboard.json)', () => {
  const dashboard = readGrafanaDashboard();

  it('queries only metrics the bot exposes', async () => {
    const exposed = exposedMetrics(await exposition());
    const queried = queriedMetrics(dashboard);
    expect(queried.length).toBeGreaterThan(15);
    expect(queried.filter((name) => !exposed.has(name))).toEqual([]);
  });

  it('is importable: a uid, a data source variable, and a query on every panel but the rows', () => {
    expect(dashboard.uid).toBe('switchboard');
    expect(dashboard.templating.list.map((variable) => variable.name)).toContain('datasource');
    const panels = allPanels(dashboard).filter((panel) => panel.type !== 'row');
    expect(panels.filter((panel) => (panel.targets ?? []).length === 0).map((panel) => panel.title)).toEqual([]);
    expect(new Set(panels.map((panel) => panel.title)).size).toBe(panels.length);
  });

  it('would catch a metric the bot does not have (the check can fail)', () => {
    const exposed = exposedMetrics('# TYPE switchboard_a_total counter\n# TYPE switchboard_b histogram\n');
    expect([...exposed].sort()).toEqual([
      'switchboard_a_total',
      'switchboard_b',
      'switchboard_b_bucket',
      'switchboard_b_count',
      'switchboard_b_sum',
    ]);
    expect(exposed.has('switchboard_no_such_metric')).toBe(false);
  });
});
