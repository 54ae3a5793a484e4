import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  DEFAULT_E2E_OPTIONS,
  deployedNodeArgs,
  type E2eOptions,
  type PhaseResult,
  runE2eBenchmark,
} from '../../bench/e2e/benchmark';
import { PROJECT_ROOT } from '../helpers/built';
import { evaluateTargets, formatE2eReport } from '../../bench/e2e/report';

/**
 * A tiny run of `npm run bench:e2e` (a handful of users, every arm and phase), so the benchmark
 * keeps working as the bot changes. It checks that every message is answered and the figures are
 * sane, not how fast anything is: timing belongs to the benchmark run, not to the test suite.
 */
interface PackageJson {
  readonly scripts: Record<string, string>;
}

const TINY: E2eOptions = {
  ...DEFAULT_E2E_OPTIONS,
  users: 5,
  messagesPerUser: 3,
  warmupMessages: 5,
  latencyRatePerSecond: 20,
  latencySeconds: 0.5,
  providerDelayMs: 50,
  rounds: 1,
  memoryCheckpoints: [5, 10],
  memoryConcurrency: 5,
  memoryWarmupMessages: 5,
  streaming: true,
  phaseDeadlineMs: 20_000,
  arms: ['echo', 'floor', 'switchboard'],
  intake: {
    closedLoopUsers: 5,
    closedLoopMessagesPerUser: 2,
    closedLoopProviderDelayMs: 50,
    longAnswerMs: 1500,
    headOfLineChats: 5,
    headOfLineRatePerSecond: 10,
    headOfLineSeconds: 0.5,
    headOfLineProviderDelayMs: 50,
  },
};

function expectSane(phase: PhaseResult, updates: number): void {
  expect(phase.errors).toBe(0);
  expect(phase.updates).toBe(updates);
  expect(phase.p50Ms).toBeGreaterThan(0);
  expect(phase.p95Ms).toBeGreaterThanOrEqual(phase.p50Ms);
  expect(Number.isFinite(phase.botCpuMsPerUpdate)).toBe(true);
}

describe('bench:e2e smoke', () => {
  it('runs every arm and phase against the real bot processes and reports every target', async () => {
    const report = await runE2eBenchmark(TINY);

    expect(report.runs.map((run) => run.arm)).toEqual(['echo', 'floor', 'switchboard', 'switchboard-streamed']);
    for (const run of report.runs) {
      if (run.arm !== 'switchboard-streamed') {
        expectSane(run.throughput!, TINY.users * TINY.messagesPerUser);
        expect(run.throughput!.updatesPerSecond).toBeGreaterThan(0);
      }
      expectSane(run.latency, TINY.latencyRatePerSecond * TINY.latencySeconds);
      expect(run.peakRssBytes).toBeGreaterThan(10 * 1024 * 1024);
      // Every message reached the bot through getUpdates.
      expect(run.latency.stages.delivery.p50Ms).toBeGreaterThanOrEqual(0);
      if (run.arm !== 'echo') {
        // Switchboard's answers came from the provider, which takes its time: they cannot be faster.
        expect(run.latency.p50Ms).toBeGreaterThanOrEqual(TINY.providerDelayMs);
        expect(run.latency.stages.provider.p50Ms).toBeGreaterThanOrEqual(TINY.providerDelayMs - 1);
      }
      // Only Switchboard keeps state in Redis; the floor bot calls the provider and replies.
      if (run.arm === 'floor') expect(run.latency.redisCommandsPerUpdate).toBe(0);
      else if (run.arm !== 'echo') expect(run.latency.redisCommandsPerUpdate).toBeGreaterThan(0);
    }

    expect(report.intake.map((run) => run.arm)).toEqual([
      'switchboard',
      'switchboard-x2',
      'switchboard-memory',
      'floor',
    ]);
    for (const run of report.intake) {
      expectSane(run.closedLoop, 5 * 2);
      expectSane(run.headOfLine, 5);
      expect(run.longAnswered).toBe(true);
    }

    expect(report.memory.map((run) => run.arm)).toEqual(['echo', 'switchboard']);
    for (const run of report.memory) {
      expect(run.errors).toBe(0);
      expect(run.checkpoints.map((checkpoint) => checkpoint.users)).toEqual([5, 10]);
      for (const checkpoint of run.checkpoints) {
        expect(checkpoint.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
        // The probe answered: a live heap after a full collection, smaller than the process.
        expect(checkpoint.liveHeapBytes).toBeGreaterThan(1024 * 1024);
        expect(checkpoint.liveHeapBytes).toBeLessThan(checkpoint.rssBytes);
      }
    }

    const checks = evaluateTargets(report);
    expect(checks.map((check) => check.target)).toEqual([
      expect.stringContaining('throughput'),
      expect.stringContaining('throughput of the floor'),
      expect.stringContaining('switchboard / floor'),
      expect.stringContaining('added p95 latency'),
      expect.stringContaining('added p95 latency over the echo bot'),
      expect.stringContaining('RSS after 10 distinct users'),
      expect.stringContaining('live heap growth'),
      expect.stringContaining('RSS growth'),
      ...['switchboard', 'switchboard, two processes on one Redis', 'switchboard without Redis', 'floor'].flatMap(
        (arm) => [
          expect.stringMatching(new RegExp(`^closed loop, .*: ${arm}`)),
          expect.stringMatching(new RegExp(`^other chats' p95 .*: ${arm}`)),
        ],
      ),
    ]);
    const text = formatE2eReport(report);
    expect(text).toContain('Targets');
    expect(text).toMatch(/ALL TARGETS PASS|TARGET\(S\) FAIL/);
    expect(text).not.toMatch(/NaN|undefined/);
  }, 120_000);

  it('measures the bot with the node arguments it is deployed with: npm start passes the same as PM2', () => {
    const args = deployedNodeArgs();
    expect(args.length).toBeGreaterThan(0);
    const start = (JSON.parse(readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8')) as PackageJson).scripts
      .start;
    expect(start).toContain(`node ${args.join(' ')} dist/bot/main.js`);
  });
});
