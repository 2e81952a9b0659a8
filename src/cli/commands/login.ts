import { COMMAND_HEADS } from '../command-heads.js';
import type { Argv, CommandModule } from 'yargs';
import { storeCredentials } from '../../registry/credentials.js';
import { readPasswordFromStdin } from '../../registry/push.js';
import { parseReference } from '../../registry/reference.js';
import { UsageError } from '../../util/errors.js';
import { withOptions } from '../options.js';

interface LoginArgs {
  registry: string;
  username?: string;
  'password-stdin': boolean;
  json: boolean;
}

export const loginCommand: CommandModule<object, LoginArgs> = {
  ...COMMAND_HEADS['login'],
  builder: (yargs: Argv) =>
    withOptions(yargs.positional('registry', { describe: 'The registry host (ghcr.io, registry.gitlab.com, localhost:5000), or an image reference on it', type: 'string', demandOption: true }), 'username', 'password-stdin', 'json')
      .example('printf %s "$CI_REGISTRY_PASSWORD" | $0 login "$CI_REGISTRY" --username "$CI_REGISTRY_USER" --password-stdin', 'In a CI job, one login per registry it pushes to')
      .epilogue(
        "The login is written to $DOCKER_CONFIG/config.json (else ~/.docker/config.json) under auths, keyed by the registry's host, keeping the other entries: " +
          'push, pull and verify then use it for that registry and no other. Nothing is asked of the registry. The password is read from standard input only.',
      ) as unknown as Argv<LoginArgs>,
  handler: async (args) => {
    if (args.username === undefined || !args['password-stdin']) throw new UsageError('login needs --username and --password-stdin (addonix never takes a password as an argument)');
    // A bare host, or the host of a reference (CI variables often name an image: $CI_REGISTRY_IMAGE).
    const registry = /[/]/.test(args.registry) ? parseReference(args.registry).registry : args.registry.replace(/^[a-z]+:\/\//i, '');
    if (!/^[A-Za-z0-9.-]+(:\d+)?$/.test(registry)) throw new UsageError(`'${args.registry}' is not a registry host (e.g. ghcr.io or localhost:5000)`);
    const password = await readPasswordFromStdin();
    const file = await storeCredentials(registry, args.username, password);
    if (args.json) process.stdout.write(JSON.stringify({ registry, username: args.username, file }, null, 2) + '\n');
    // Nothing was asked of the registry: what is said is what was written, not that the login works.
    else process.stdout.write(`credentials for ${registry} (user ${args.username}) written to ${file}\n`);
  },
};
