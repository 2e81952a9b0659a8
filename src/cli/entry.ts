/**
 * The addonix process (bin/addonix.js): runs the command line with main.ts and exits with its status.
 */
import { main } from './main.js';

// `addonix ... | head` closes the pipe early: stop quietly, as other command-line tools do.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  throw error;
});

/**
 * Ends the process once what it wrote is out. Every command awaits its own work; what would otherwise
 * keep the process alive is idle: fetch's keep-alive connection to a registry holds it a fifth of a
 * second (half of a push that has nothing to send) before it times out.
 */
function exitWhenWritten(code: number): void {
  process.exitCode = code;
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}

// What yargs' hideBin() returns outside Electron, without loading yargs for it.
exitWhenWritten(await main(process.argv.slice(2)));
