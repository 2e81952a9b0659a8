/**
 * Each command's usage line and one-line description, apart from the command itself: help without a
 * command lists them all without loading any command's modules (which would take a third of a second).
 */
export const COMMAND_HEADS = {
  'init': { command: 'init [dir]', describe: 'Make an add-on repository build with addonix: thin flake.nix, generated Nix data, .gitignore, optionally a CI file' },
  'validate': { command: 'validate [paths..]', describe: 'Check add-on files the way the Home Assistant Supervisor does' },
  'inspect': { command: 'inspect [dir]', describe: 'Show the resolved model of one add-on: per arch the platform, Nix targets, image, base image, build args and labels' },
  'deps': { command: 'deps [dir]', describe: 'Show what npm installs for a target (arch and libc) and how each native addon gets its binary' },
  'generate': { command: 'generate [dir]', describe: "Write the add-on's Nix data (nix/*.generated.nix): the per-arch model and the npm dependencies per target" },
  'pin-base': { command: 'pin-base [dir]', describe: "Pin the add-on's base image per arch (digest and Nix hash) in nix/base-images.lock.nix, for the flavor \"base\"" },
  'build': { command: 'build [dir]', describe: "Build the add-on's images with Nix (one invocation for all arches) and link them as result-<arch>" },
  'assemble': { command: 'assemble <images..>', describe: 'Assemble per-arch images into a multi-arch OCI image layout (result-multiarch/)' },
  'push': { command: 'push <images..>', describe: 'Push per-arch images and their multi-arch index to a registry' },
  'login': { command: 'login <registry>', describe: "Store a registry login in Docker's config.json (as docker login does), for push and the other commands to use for that registry alone" },
  'load': { command: 'load <images..>', describe: "Load the image for this machine's arch (or --arch) into Docker or Podman" },
  'run': { command: 'run [dir]', describe: 'Run the add-on\'s image as the Supervisor would: /data/options.json, its token and environment, and a local double of the Supervisor API' },
  'inspect-image': { command: 'inspect-image <image>', describe: 'Show platforms, digests, labels, layers and sizes of a local image or a registry reference' },
  'diff': { command: 'diff <a> <b>', describe: 'Compare two images: "identical", or which layer and which file differ, and how' },
  'verify': { command: 'verify [dir]', describe: 'Rebuild an image from source and prove it is the published one, or show which layer and file differ' },
  'sbom': { command: 'sbom [dir]', describe: 'Write a CycloneDX 1.6 SBOM of an image addonix built: its store paths, npm packages, native addons and base image' },
  'provenance': { command: 'provenance [dir]', describe: "Write the SLSA provenance v1 predicate of an arch's image: addonix and Nix, the flake's locked inputs, the add-on's revision (for cosign attest)" },
  'doctor': { command: 'doctor', describe: 'Check this machine for building, loading and pushing add-on images: Nix, flakes, sandbox, caches, builders, Docker/Podman, credentials' },
} as const satisfies Record<string, { command: string; describe: string }>;
