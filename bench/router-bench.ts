import { availableParallelism, loadavg } from 'node:os';
import { nextQuotaDayStart } from '../providers';
import { PROVIDERS } from '../providers/registry';
import { DEFAULT_FAILOVER_OPTIONS, type FailoverResult, runFailoverBenchmark } from './failover';
import { formatNumber, formatPercent, renderTable } from './measure';
import {
  DEFAULT_OVERHEAD_OPTIONS,
  measureWindowCost,
  type OverheadResult,
  runOverheadBenchmark,
  type WindowCost,
} from './overhead';
import { type DayRunResult, DEFAULT_DAY_OPTIONS, runSimulatedDay, type SimulatedDayResult } from './simulated-day';
import { DEFAULT_SLIDING_WINDOW_OPTIONS, runSlidingWindow, type SlidingWindowResult } from './sliding-window';

/**
 * `npm run bench`: the router's benchmarks, each measured side by side in one run, on loopback
 * only. Prints each benchmark's details as it finishes, then one table of every measured value
 * against its target. Exits 0 whatever the outcome: it reports, it does not gate.
 */

interface Row {
  readonly benchmark: string;
  readonly metric: string;
  readonly measured: string;
  readonly target: string;
  /** `undefined` for values shown for comparison only. */
  readonly pass: boolean | undefined;
}

const rows: Row[] = [];

function check(benchmark: string, metric: string, measured: string, target: string, pass: boolean | undefined): void {
  rows.push({ benchmark, metric, measured, target, pass });
}

const ms = (value: number, digits = 3): string => `${formatNumber(value, digits)} ms`;

function reportOverhead(results: readonly OverheadResult[], windowCosts: readonly WindowCost[]): void {
  const spread = (ratios: readonly number[]): string =>
    `${formatNumber(Math.min(...ratios), 2)}–${formatNumber(Math.max(...ratios), 2)}`;
  console.log(
    `\n── 1. Router overhead (${PROVIDERS[0]?.name} adapter, one key, fake answering at once over loopback HTTP)`,
  );
  console.log(
    renderTable(
      [
        'in flight',
        'direct req/s',
        'router req/s',
        'router÷direct',
        'rounds min–max',
        'A/A control',
        'control min–max',
        'direct p50',
        'router p50',
        'added p50',
        'CPU µs/req direct',
        'router',
        'CPU direct÷router',
      ],
      results.map((result) => [
        String(result.concurrency),
        formatNumber(result.direct.requestsPerSecond, 0),
        formatNumber(result.router.requestsPerSecond, 0),
        formatNumber(result.throughputRatio, 3),
        spread(result.roundRatios),
        formatNumber(result.controlRatio, 3),
        spread(result.controlRatios),
        ms(result.direct.p50Ms),
        ms(result.router.p50Ms),
        ms(result.addedP50Ms),
        formatNumber(result.direct.cpuMicrosecondsPerRequest, 0),
        formatNumber(result.router.cpuMicrosecondsPerRequest, 0),
        formatNumber(result.cpuRatio, 3),
      ]),
    ),
  );
  console.log(
    `  ${DEFAULT_OVERHEAD_OPTIONS.rounds} rounds of ${DEFAULT_OVERHEAD_OPTIONS.requestsPerRound} requests per arm after ` +
      `${DEFAULT_OVERHEAD_OPTIONS.warmupRequests} warm-up requests, arm order rotating; a new router (new in-memory quota\n` +
      '  store) each round. Ratios are medians over rounds of the arms’ requests/s. The A/A control is the direct arm\n' +
      '  run twice: its distance from 1 is what machine noise alone does to a ratio. CPU = this process’s CPU time per\n' +
      '  request (client, router and fake server all run in it).',
  );
  console.log(
    '\n   Router CPU per request without HTTP (in-process adapter), by requests already in the key’s last minute:',
  );
  console.log(
    renderTable(
      ['requests in window', 'µs per request'],
      windowCosts.map((cost) => [formatNumber(cost.windowEntries, 0), formatNumber(cost.microsecondsPerRequest, 1)]),
    ),
  );
  for (const result of results) {
    const label = result.concurrency === 1 ? 'sequential' : `${result.concurrency} in flight`;
    const ratio = result.throughputRatio;
    check('1 overhead', `${label}: throughput router ÷ direct`, formatNumber(ratio, 3), '≥ 0.90', ratio >= 0.9);
    check('1 overhead', `${label}: added p50`, ms(result.addedP50Ms), '< 0.5 ms', result.addedP50Ms < 0.5);
    check('1 overhead', `${label}: A/A control (noise)`, formatNumber(result.controlRatio, 3), 'info', undefined);
    check('1 overhead', `${label}: CPU time direct ÷ router`, formatNumber(result.cpuRatio, 3), 'info', undefined);
  }
  const smallest = windowCosts[0];
  const largest = windowCosts.at(-1);
  if (smallest !== undefined && largest !== undefined) {
    check(
      '1 overhead',
      `router CPU/request, ${formatNumber(smallest.windowEntries, 0)} vs ${formatNumber(largest.windowEntries, 0)} in key window`,
      `${formatNumber(smallest.microsecondsPerRequest, 0)} vs ${formatNumber(largest.microsecondsPerRequest, 0)} µs`,
      'info',
      undefined,
    );
  }
}

function reportFailover(runs: readonly { readonly label: string; readonly result: FailoverResult }[]): void {
  console.log(
    '\n── 2. Failover (A = the first provider in priority hangs after a healthy phase, B = the second; both answer in a fixed delay)',
  );
  console.log(
    renderTable(
      [
        'run',
        'in flight',
        'answer',
        'hedging',
        'healthy p95',
        'p95 after hang',
        'ratio',
        'first-token ratio',
        'max after hang',
        'paid a timeout',
        'attempts on A',
        'hedges healthy / after',
        'failed',
      ],
      runs.map(({ label, result }) => [
        label,
        String(result.options.concurrency),
        result.options.streamMs > 0
          ? `streamed: ${ms(result.options.replyDelayMs, 0)} + ${ms(result.options.streamMs, 0)}`
          : `whole: ${ms(result.options.replyDelayMs, 0)}`,
        result.options.hedging ? `on (≥ ${ms(result.options.hedgeMinDelayMs, 0)})` : 'off',
        ms(result.healthyP95Ms, 1),
        ms(result.failoverP95Ms, 1),
        formatNumber(result.ratio, 3),
        Number.isNaN(result.firstTokenRatio) ? '—' : formatNumber(result.firstTokenRatio, 3),
        ms(result.failoverMaxMs, 1),
        `${result.paidTimeout} of ${result.options.failoverRequests}`,
        String(result.attemptsOnHangingProvider),
        `${result.healthyHedges} / ${result.failoverHedges}`,
        String(result.failed),
      ]),
    ),
  );
  console.log(
    `  Attempt timeout ${ms(runs[0]?.result.options.attemptTimeoutMs ?? 0, 0)}. Without hedging, the N requests in flight when A starts hanging\n` +
      '  each pay one attempt timeout before the first timeout opens the breaker; above 5 % of the measured\n' +
      "  requests that is the p95. With hedging, each gets a backup on B once A has been silent for 1.5 × A's\n" +
      '  recent p95, and three lost races open the breaker. Streamed answers are timed to their last word\n' +
      '  (what the user waits for); the first-token ratio is beside them.',
  );
  const find = (label: string): FailoverResult | undefined => runs.find((run) => run.label === label)?.result;
  const sequential = find('sequential');
  if (sequential !== undefined) {
    check(
      '2 failover',
      'sequential: p95 after A hangs ÷ healthy p95',
      formatNumber(sequential.ratio, 3),
      '≤ 1.20',
      sequential.ratio <= 1.2,
    );
  }
  const streamedHedged = find('streamed, hedged');
  if (streamedHedged !== undefined) {
    const concurrency = streamedHedged.options.concurrency;
    check(
      '2 failover',
      `${concurrency} in flight, streamed, hedged: p95 after A hangs ÷ healthy p95`,
      formatNumber(streamedHedged.ratio, 3),
      '≤ 1.50',
      streamedHedged.ratio <= 1.5,
    );
    const share = streamedHedged.healthyHedges / streamedHedged.options.healthyRequests;
    check(
      '2 failover',
      'hedges in the healthy phase, share of requests',
      `${formatNumber(share * 100, 1)} %`,
      '≤ 2 %',
      share <= 0.02,
    );
    check(
      '2 failover',
      'same run: first-token p95 ratio',
      formatNumber(streamedHedged.firstTokenRatio, 3),
      'info',
      undefined,
    );
  }
  for (const label of ['whole, not hedged', 'whole, hedged', 'streamed, not hedged']) {
    const result = find(label);
    if (result !== undefined) {
      check(
        '2 failover',
        `${result.options.concurrency} in flight, ${label}: ratio`,
        formatNumber(result.ratio, 3),
        'info',
        undefined,
      );
    }
  }
}

/** ` (<name>'s quota day turns at 08:00 UTC)` for each provider whose day does not turn at UTC midnight. */
function dayTurns(start: number): string {
  const turns = PROVIDERS.filter((descriptor) => descriptor.dailyResetZone !== 'UTC').map(
    (descriptor) =>
      `${descriptor.name}'s quota day turns at ${new Date(nextQuotaDayStart(start, descriptor.dailyResetZone)).toISOString().slice(11, 16)} UTC`,
  );
  return turns.length === 0 ? '' : ` (${turns.join(', ')})`;
}

function reportSlidingWindow(results: readonly SlidingWindowResult[]): void {
  const options = results[0]?.options ?? DEFAULT_SLIDING_WINDOW_OPTIONS;
  console.log('\n── 4. Sliding windows at the limit (virtual time)');
  console.log(
    `  ${options.keys} keys × ${options.requestsPerMinute} RPM; each provider counts a sliding 60 s window from the moment a\n` +
      `  request arrives (5–150 ms after the router reserved it) and does not count what it refuses; demand\n` +
      `  ${options.demandFactor}× the pool's capacity for ${options.minutes} minutes.`,
  );
  console.log(
    renderTable(
      [
        'router',
        'demand',
        'served',
        'served ÷ capacity',
        'told busy',
        'busy while a slot was free > 1 s',
        'upstream',
        '429s',
      ],
      results.map((result) => [
        result.label,
        String(result.demand),
        String(result.served),
        formatPercent(result.servedShare),
        String(result.refusedToUsers),
        String(result.refusedWithFreeSlot),
        String(result.upstreamRequests),
        String(result.upstream429s),
      ]),
    ),
  );
  const ours = results.find((result) => result.options.slotMarginMs === undefined);
  if (ours === undefined) return;
  check('4 sliding', 'upstream 429s', String(ours.upstream429s), '0', ours.upstream429s === 0);
  check(
    '4 sliding',
    'users told busy while a key had had a free slot > 1 s',
    String(ours.refusedWithFreeSlot),
    '0',
    ours.refusedWithFreeSlot === 0,
  );
  check('4 sliding', 'capacity served', formatPercent(ours.servedShare), '≥ 99 %', ours.servedShare >= 0.99);
  const before = results.find((result) => result.options.slotMarginMs === 0);
  if (before !== undefined) {
    check('4 sliding', 'slot margin 0 (before): upstream 429s', String(before.upstream429s), 'baseline', undefined);
  }
}

function reportDay(result: SimulatedDayResult): void {
  const { options } = result;
  console.log('\n── 3. Simulated day on virtual time (free-tier limits enforced per key by the fake server)');
  console.log(
    `  ${options.hours} h from ${new Date(options.start).toISOString()}, keys ${Object.entries(options.keysPerProvider)
      .map(([name, count]) => `${name}×${count}`)
      .join(' ')} (${result.keys} keys), seed ${options.seed}\n` +
      `  capacity Σ daily quota (RPD; a monthly quota whole) = ${formatNumber(result.capacity, 0)} requests (${formatNumber(result.capacityRatePerMinute, 1)}/min spread over the day); ` +
      `within the window ${formatNumber(result.windowCapacity, 0)}${dayTurns(options.start)}\n` +
      `  demand ${formatNumber(result.demand, 0)} requests = ${formatNumber(result.demand / result.capacity, 2)}× capacity, ` +
      `peak ${formatNumber(result.demandPeakPerMinute, 1)}/min (${options.peakFactor}× the capacity rate) at ${options.peakAtHour}:00, ` +
      `~${formatNumber(result.averageTokensPerRequest, 0)} tokens a request`,
  );
  const runs = [result.ours, result.oursPriorityOnly, result.naive];
  const upstreamRefusals = (run: DayRunResult): string =>
    Object.entries(run.upstream.refusedByKind)
      .filter(([, count]) => count > 0)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ') || '—';
  console.log(
    renderTable(
      [
        'router',
        'served',
        '÷ Σ daily',
        '÷ window capacity',
        'failed',
        'failed w/ room',
        'upstream req',
        'upstream 429',
        '429 share',
        '429 by limit',
        'delay p95',
        'delay max',
        'wall',
      ],
      runs.map((run) => [
        run.label,
        formatNumber(run.served, 0),
        formatPercent(run.shareOfCapacity),
        formatPercent(run.shareOfWindowCapacity),
        formatNumber(run.failed, 0),
        String(run.failedWithRoom),
        formatNumber(run.upstream.upstreamRequests, 0),
        formatNumber(run.upstream.refused, 0),
        formatPercent(run.refusedShare),
        upstreamRefusals(run),
        `${formatNumber(run.delayP95Ms / 1000, 1)} s`,
        `${formatNumber(run.delayMaxMs / 1000, 1)} s`,
        `${formatNumber(run.wallMs / 1000, 1)} s`,
      ]),
    ),
  );
  for (const run of runs) {
    const served = Object.entries(run.upstream.servedByProvider)
      .map(([name, count]) => `${name} ${count}`)
      .join(', ');
    const refused = Object.entries(run.upstream.refusedByProvider)
      .map(([name, count]) => `${name} ${count}`)
      .join(', ');
    const failures = Object.entries(run.failedByKind)
      .map(([kind, count]) => `${kind} ${count}`)
      .join(', ');
    console.log(`  ${run.label}: served by ${served || '—'}; 429s from ${refused || '—'}; failures ${failures || '—'}`);
    console.log(
      `  ${run.label}: last answer at ${run.lastServedAt === undefined ? '—' : new Date(run.lastServedAt).toISOString()}; ` +
        `waited for a key, then answered ${run.waitedThenServed}, then refused ${run.waitedThenFailed}`,
    );
    for (const example of run.failedWithRoomExamples) console.log(`    failed with room: ${example}`);
  }
  console.log('  delay = virtual time from arrival to answer or failure (our router waits up to maxWaitMs for a key).');
  const { ours, oursPriorityOnly, naive } = result;
  check(
    '3 day',
    'ours: served ÷ Σ daily quota',
    formatPercent(ours.shareOfCapacity),
    '≥ 99 %',
    ours.shareOfCapacity >= 0.99,
  );
  check(
    '3 day',
    'ours: upstream 429s ÷ upstream requests',
    formatPercent(ours.refusedShare),
    '≤ 0.5 %',
    ours.refusedShare <= 0.005,
  );
  check('3 day', 'ours: failed while capacity remained', String(ours.failedWithRoom), '0', ours.failedWithRoom === 0);
  check(
    '3 day',
    'ours ÷ window capacity, beside priority order only',
    `${formatPercent(ours.shareOfWindowCapacity)} vs ${formatPercent(oursPriorityOnly.shareOfWindowCapacity)}`,
    'more',
    ours.served > oursPriorityOnly.served,
  );
  check('3 day', 'naive: served ÷ Σ daily quota', formatPercent(naive.shareOfCapacity), 'baseline', undefined);
  check('3 day', 'naive: upstream 429s ÷ upstream requests', formatPercent(naive.refusedShare), 'baseline', undefined);
  check('3 day', 'naive: failed while capacity remained', String(naive.failedWithRoom), 'baseline', undefined);
}

async function timed<T>(label: string, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  process.stdout.write(`… ${label}\n`);
  const result = await run();
  process.stdout.write(`  (${label}: ${formatNumber((performance.now() - started) / 1000, 1)} s)\n`);
  return result;
}

async function main(): Promise<void> {
  const started = performance.now();
  console.log(
    `Switchboard router benchmarks — node ${process.version}, ${availableParallelism()} CPUs, load average ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
  );

  const overhead = await timed('overhead', () => runOverheadBenchmark(DEFAULT_OVERHEAD_OPTIONS));
  const windowCosts = await timed('router cost by key window size', () =>
    measureWindowCost([30, 1_000, 10_000, 30_000]),
  );
  reportOverhead(overhead, windowCosts);

  const inFlight = { ...DEFAULT_FAILOVER_OPTIONS, concurrency: 8 };
  const streamed = { ...inFlight, streamMs: 500 };
  const failoverRuns: { label: string; result: FailoverResult }[] = [];
  for (const [label, options] of [
    ['sequential', DEFAULT_FAILOVER_OPTIONS],
    ['whole, not hedged', { ...inFlight, hedging: false }],
    ['whole, hedged', inFlight],
    ['streamed, not hedged', { ...streamed, hedging: false }],
    ['streamed, hedged', streamed],
  ] as const) {
    failoverRuns.push({ label, result: await timed(`failover, ${label}`, () => runFailoverBenchmark(options)) });
  }
  reportFailover(failoverRuns);

  const day = await timed('simulated day', () => runSimulatedDay(DEFAULT_DAY_OPTIONS));
  reportDay(day);

  const sliding = await timed('sliding windows', async () => [
    await runSlidingWindow(DEFAULT_SLIDING_WINDOW_OPTIONS),
    await runSlidingWindow({ ...DEFAULT_SLIDING_WINDOW_OPTIONS, slotMarginMs: 0 }),
  ]);
  reportSlidingWindow(sliding);

  console.log(`\n══ Summary (${formatNumber((performance.now() - started) / 1000, 0)} s)`);
  console.log(
    renderTable(
      ['benchmark', 'metric', 'measured', 'target', 'result'],
      rows.map((row) => [
        row.benchmark,
        row.metric,
        row.measured,
        row.target,
        row.pass === undefined ? '—' : row.pass ? 'PASS' : 'FAIL',
      ]),
    ),
  );
  const failures = rows.filter((row) => row.pass === false);
  if (failures.length === 0) {
    console.log('\nAll targets met.');
  } else {
    console.log(`\n${'!'.repeat(72)}`);
    for (const failure of failures) {
      console.log(`!!! FAIL  ${failure.benchmark} — ${failure.metric}: ${failure.measured} (target ${failure.target})`);
    }
    console.log('!'.repeat(72));
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error('!!! the benchmark run itself failed:', error);
    process.exit(0);
  },
);
