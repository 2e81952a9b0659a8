// A node:test reporter that prints, after the run, the files that took longest: from each file's first
// event to its last, as this process saw them (a file's process start-up and its before() hooks before its
// first test are counted from the previous event of the run, so the figure is a floor). run-tests.mjs
// uses it beside the spec reporter, so that CI's log says where the suite's time goes.
import path from 'node:path';

export default async function* fileTimes(source) {
  const spans = new Map();
  let last = performance.now();
  for await (const event of source) {
    const file = event.data?.file;
    const now = performance.now();
    if (file) {
      const span = spans.get(file);
      if (span) span.end = now;
      else spans.set(file, { start: last, end: now });
    }
    last = now;
  }
  const slowest = [...spans].map(([file, { start, end }]) => [path.basename(file, '.test.js'), (end - start) / 1000]).sort((a, b) => b[1] - a[1]).slice(0, 12);
  yield `run-tests: longest files (seconds, first to last event): ${slowest.map(([name, seconds]) => `${name} ${seconds.toFixed(0)}`).join(', ')}\n`;
}
