/**
 * `npm run bench:e2e`: Switchboard and a bare grammY echo bot under the same simulated users, side
 * by side in one run (see benchmark.ts). Progress goes to stderr, the report (with a PASS or FAIL
 * for each target) to stdout. Exits 0 when the benchmark ran, whatever the verdicts, like
 * `npm run bench`; 2 when it could not run.
 */
import { DEFAULT_E2E_OPTIONS, runE2eBenchmark } from './benchmark';
import { formatE2eReport } from './report';

async function main(): Promise<void> {
  const started = Date.now();
  const report = await runE2eBenchmark(DEFAULT_E2E_OPTIONS, (line) =>
    process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}\n`),
  );
  process.stdout.write(`${formatE2eReport(report)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(
    `bench:e2e failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(2);
});
