import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from './built';

/** The Grafana dashboard shipped in the repository. */
export const GRAFANA_DASHBOARD = path.join(PROJECT_ROOT, 'ops/grafana/switchboard.json');

interface Panel {
  readonly type: string;
  readonly title: string;
  readonly targets?: readonly { readonly expr: string }[];
  readonly panels?: readonly Panel[];
}

export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly panels: readonly Panel[];
  readonly templating: { readonly list: readonly { readonly name: string; readonly query?: unknown }[] };
}

export function readGrafanaDashboard(): GrafanaDashboard {
  return JSON.parse(readFileSync(GRAFANA_DASHBOARD, 'utf8')) as GrafanaDashboard;
}

/** Every panel, rows' nested ones included. */
export function allPanels(dashboard: GrafanaDashboard): Panel[] {
  return dashboard.panels.flatMap((panel) => [panel, ...(panel.panels ?? [])]);
}

/** Every PromQL expression the dashboard runs: the panels' queries and the variables' queries. */
export function grafanaQueries(dashboard: GrafanaDashboard): string[] {
  const panels = allPanels(dashboard).flatMap((panel) => (panel.targets ?? []).map((target) => target.expr));
  const variables = dashboard.templating.list.flatMap((variable) => {
    const query = variable.query as { query?: unknown } | string | undefined;
    const text = typeof query === 'string' ? query : query?.query;
    return typeof text === 'string' && text.includes('switchboard_') ? [text] : [];
  });
  return [...panels, ...variables];
}

/** The metric names in the queries (a histogram's `_bucket`, `_sum` and `_count` series included). */
export function queriedMetrics(dashboard: GrafanaDashboard): string[] {
  const names = grafanaQueries(dashboard).flatMap((expr) => expr.match(/\bswitchboard_[a-z0-9_]+/g) ?? []);
  return [...new Set(names)].sort();
}

/**
 * The metric names a Prometheus text exposition declares (`# TYPE` lines, so a counter with no
 * sample yet counts), with the `_bucket`, `_sum` and `_count` series of each histogram and summary.
 */
export function exposedMetrics(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const match of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    const [, name = '', type] = match;
    names.add(name);
    if (type === 'histogram' || type === 'summary')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
  }
  return names;
}
