import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { runChecks, type Check } from '../../doctor/checks.js';
import { paint } from '../output.js';
import { withOptions } from '../options.js';

interface DoctorArgs {
  registry?: string[];
  json: boolean;
}

export const doctorCommand: CommandModule<object, DoctorArgs> = {
  ...COMMAND_HEADS['doctor'],
  builder: (yargs: Argv) =>
    withOptions(yargs, 'registry', 'json')
      .example('$0 doctor', 'Everything addonix needs, each line ok, warn or fail with the fix')
      .example('$0 doctor --registry ghcr.io', 'Also: can addonix push to ghcr.io with the credentials here?')
      .epilogue('Exit status 1 when a check fails (warnings do not fail). Nothing is changed on the machine.') as unknown as Argv<DoctorArgs>,
  handler: async (args) => {
    const checks = await runChecks({ registries: args.registry ?? [] });
    process.stdout.write(args.json ? JSON.stringify(checks, null, 2) + '\n' : renderChecks(checks));
    process.exitCode = checks.some((c) => c.status === 'fail') ? 1 : 0;
  },
};

function renderChecks(checks: Check[]): string {
  const color = paint(process.stdout);
  const style = { ok: 'green', warn: 'yellow', fail: 'red' } as const;
  const lines = checks.map((c) => `${color(style[c.status], c.status.padEnd(4))}  ${c.check.padEnd(13)} ${c.message}${c.fix ? `\n${''.padEnd(20)}fix: ${c.fix}` : ''}`);
  const counts = (['fail', 'warn'] as const).map((s) => `${checks.filter((c) => c.status === s).length} ${s}`).join(', ');
  return `${lines.join('\n')}\n${counts}\n`;
}
