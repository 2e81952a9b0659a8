// A node:test reporter that prints, after the run, the test files whose tests took longest: each file's
// top-level tests' durations added up (a test's before() hooks are in its first test's time; a file's
// process start-up is not). Node 20 reports no event per file, and a file's events reach the parent
// when it has finished, so this sum is the figure to trust. run-tests.mjs uses it beside the spec
// reporter, so that CI's log says where the suite's time goes.
import path from 'node:path';

export default async function* fileTimes(source) {
  const totals = new Map();
  for await (const event of source) {
    if ((event.type !== 'test:pass' && event.type !== 'test:fail') || event.data.nesting !== 0 || !event.data.file) continue;
    const name = path.basename(event.data.file, '.test.js');
    totals.set(name, (totals.get(name) ?? 0) + (event.data.details?.duration_ms ?? 0) / 1000);
  }
  const slowest = [...totals].sort((a, b) => b[1] - a[1]).slice(0, 12);
  yield `run-tests: files whose tests took longest (seconds): ${slowest.map(([name, seconds]) => `${name} ${seconds.toFixed(0)}`).join(', ')}\n`;
}
