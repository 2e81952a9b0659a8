import { COMMAND_HEADS } from '../command-heads.js';
import { existsSync } from 'node:fs';
import type { Argv, CommandModule } from 'yargs';
import { readInput } from '../../oci/inputs.js';
import { assembleIndex, indexAnnotations } from '../../oci/assemble.js';
import { splitArchPrefix, formatPlatform } from '../../oci/platform.js';
import { summarizeArtifact, summarizeImage, type InspectResult } from '../../oci/summary.js';
import { MediaType } from '../../oci/media-types.js';
import { inspectRemote } from '../../registry/pull.js';
import { parseReference } from '../../registry/reference.js';
import { formatBytes, layerPolicy, layerRules, ProgressLine, registryTimes } from '../images.js';
import { withOptions } from '../options.js';
import { table } from '../output.js';
import { UserError } from '../../util/errors.js';

interface InspectImageArgs {
  image: string;
  json: boolean;
  compression?: string;
  insecure: boolean;
  'allow-devices': boolean;
  timeout?: number;
  'retry-for'?: number;
}

export const inspectImageCommand: CommandModule<object, InspectImageArgs> = {
  ...COMMAND_HEADS['inspect-image'],
  builder: (yargs: Argv) =>
    withOptions(
      yargs.positional('image', { describe: 'A local image (result link, tarball, stream script, OCI layout) or a reference REGISTRY/REPO[:TAG|@DIGEST]', type: 'string' }),
      'json', 'compression', 'allow-devices', 'insecure', 'timeout', 'retry-for',
    )
      .example('$0 inspect-image result', 'A local build: the digests a push would produce')
      .example('$0 inspect-image ghcr.io/me/my-addon:1.2.3 --json', 'What a registry holds (manifests and configs only; no layer is downloaded)')
      .epilogue(
        'A path that exists is a local image; anything else is a registry reference. For a local tarball, the digests shown are those of ' +
          'the compressed layers addonix would push (--compression, gzip by default); the diff_ids do not depend on compression.',
      ) as unknown as Argv<InspectImageArgs>,
  handler: async (args) => {
    let result: InspectResult;
    const local = splitArchPrefix(args.image).path;
    // An absolute or ./-relative name is a path for sure, as diff reads it: a registry reference cannot start so.
    if (!existsSync(local) && /^[./~]/.test(local)) throw new UserError('not-found', `${args.image}: no such file or folder`, { file: local });
    if (existsSync(local)) {
      const progress = new ProgressLine();
      progress.update(() => `reading ${args.image}...`, true);
      const { images, artifacts } = await readInput(args.image, { policy: layerPolicy(args.compression), rules: layerRules(args['allow-devices']) }).finally(() => progress.done());
      const summaries = images.map((image) => summarizeImage(image.manifest, image.manifestDigest, image.config, image.platform));
      if (images.length === 1 && artifacts.length === 0) {
        result = { source: args.image, kind: 'manifest', digest: images[0]!.manifestDigest, mediaType: images[0]!.manifest.mediaType, annotations: images[0]!.manifest.annotations ?? {}, images: summaries, artifacts: [] };
      } else {
        // The index a push would write: the images in the arch table's order, then the artifacts it carries.
        const assembled = assembleIndex(images, indexAnnotations(images), artifacts);
        const ordered = assembled.images.map((image) => summaries[images.indexOf(image)]!);
        result = { source: args.image, kind: 'index', digest: assembled.digest, mediaType: MediaType.ociIndex, annotations: assembled.index.annotations ?? {}, images: ordered, artifacts: assembled.artifacts.map((artifact) => summarizeArtifact(artifact.descriptor)) };
      }
    } else {
      result = await inspectRemote(parseReference(args.image), { insecure: args.insecure, client: registryTimes(args) });
    }
    process.stdout.write(args.json ? JSON.stringify(result, null, 2) + '\n' : renderInspect(result));
  },
};

function renderInspect(result: InspectResult): string {
  const out: string[] = [];
  out.push(`${result.source}  ${result.kind} ${result.digest}${result.kind === 'index' ? `  (${result.images.length} platforms)` : ''}`);
  for (const [key, value] of Object.entries(result.annotations)) out.push(`  ${key}  ${value}`);
  for (const image of result.images) {
    out.push('');
    out.push(`${formatPlatform(image.platform)}${image.arch ? ` (${image.arch})` : ''}  manifest ${image.digest}`);
    out.push(`  config   ${image.config.digest}  created ${image.created ?? '-'}`);
    out.push(`  size     ${formatBytes(image.size)} in ${image.layers.length} layers`);
    const labels = Object.entries(image.labels);
    if (labels.length > 0) out.push('  labels', table(labels.map(([key, value]) => ['    ' + key, value])));
    out.push('  layers');
    out.push(table(image.layers.map((layer) => ['    ' + layer.digest, formatBytes(layer.size), layer.mediaType.replace(/^application\/vnd\.(oci\.image|docker\.image\.rootfs)\./, '')])));
  }
  if (result.artifacts.length > 0) {
    out.push('', 'artifacts (carried as they are)');
    out.push(table(result.artifacts.map((artifact) => ['  ' + artifact.digest, artifact.artifactType ?? artifact.annotations['vnd.docker.reference.type'] ?? artifact.mediaType, artifact.platform ? formatPlatform(artifact.platform) : ''])));
  }
  return out.join('\n') + '\n';
}
