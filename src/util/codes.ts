/**
 * Every code addonix reports, in one table: the findings about an add-on's files (validate, inspect,
 * generate, init print them as `FILE:LINE:COL: severity: message [code]`) and, in errors.ts, the codes
 * of operational errors. docs/codes.md is generated from these tables.
 */

export interface FindingInfo {
  /** error: the Supervisor refuses the file (or addonix cannot build from it); warning: it accepts it. */
  severity: 'error' | 'warning';
  summary: string;
  /** Where addonix is stricter than the Supervisor on purpose (docs/limits.md: deliberate differences). */
  stricter?: true;
}

export const FINDING_CODES = {
  // Reading files.
  'yaml-syntax': { severity: 'error', summary: 'the YAML does not parse as libyaml parses it (the Supervisor refuses the file)' },
  'json-syntax': { severity: 'error', summary: 'the JSON does not parse as orjson parses it' },
  'yaml-tag': { severity: 'error', summary: 'a YAML tag the Supervisor\'s SafeLoader does not construct' },
  'duplicate-key': { severity: 'error', summary: 'the same key twice in one mapping (the Supervisor keeps the last)', stricter: true },
  'not-utf8': { severity: 'error', summary: 'the file is not UTF-8 text', stricter: true },
  'bad-character': { severity: 'error', summary: 'a character YAML or JSON does not allow in the file' },
  'file-too-large': { severity: 'error', summary: 'the file is over 1 MiB (real add-on files are a few kilobytes)', stricter: true },
  'too-deep': { severity: 'error', summary: 'nested deeper than the Supervisor\'s reader or schema code can go' },
  unreadable: { severity: 'error', summary: 'the file cannot be read (permissions, a folder, a broken link)' },
  'not-checked': { severity: 'error', summary: 'addonix could not check this file; the other files are still checked' },
  'not-a-mapping': { severity: 'error', summary: 'the file (or a value that must be one) is not a mapping' },
  'key-not-string': { severity: 'error', summary: 'a key YAML reads as something other than text where the Supervisor needs text' },
  // Values against the Supervisor's schema.
  'missing-key': { severity: 'error', summary: 'a required key is missing (name, version, slug, description, arch)' },
  'unknown-key': { severity: 'warning', summary: 'a key the Supervisor drops (unknown, or known to the other era only); an error where the schema forbids extra keys' },
  'invalid-type': { severity: 'error', summary: 'a value of the wrong type' },
  'invalid-value': { severity: 'error', summary: 'a value the Supervisor\'s schema refuses' },
  'invalid-key': { severity: 'error', summary: 'a mapping key the schema refuses (a port, an environment name)' },
  'invalid-slug': { severity: 'error', summary: 'the slug does not match ^[-_.A-Za-z0-9]+$' },
  'invalid-image': { severity: 'error', summary: 'an image name the Supervisor\'s docker code refuses (a tag, an upper-case letter, a bad registry)' },
  'unknown-arch': { severity: 'error', summary: 'an arch Home Assistant does not know' },
  'out-of-range': { severity: 'error', summary: 'a number outside the range the schema allows' },
  'empty-value': { severity: 'error', summary: 'a value that must not be empty' },
  'duplicate-item': { severity: 'error', summary: 'the same item twice in a list that must be unique' },
  'missing-version': { severity: 'error', summary: 'an empty version: the image is tagged with it', stricter: true },
  'ingress-port-conflict': { severity: 'error', summary: 'ingress_port is also a published port' },
  'invalid-map': { severity: 'error', summary: 'map is not a list the Supervisor can read (a warning where it reads the keys of a mapping)' },
  'invalid-map-entry': { severity: 'warning', summary: 'a map entry the Supervisor skips (an error where the era fails on it)' },
  'invalid-devices': { severity: 'warning', summary: 'devices given as a string or a mapping, which the Supervisor reads in its own way' },
  'coerced-value': { severity: 'warning', summary: 'a value the Supervisor converts (a number as text, a float for an int): write the converted value' },
  'version-number': { severity: 'warning', summary: 'a version YAML reads as a number (1.10 is 1.1): quote it' },
  'version-not-text': { severity: 'warning', summary: 'a version that is not text: the Supervisor uses its Python text' },
  'deprecated-arch': { severity: 'warning', summary: 'armhf, armv7 or i386: deprecated since Supervisor 2026.03, still installed' },
  'deprecated-machine': { severity: 'warning', summary: 'a machine type the Supervisor no longer supports' },
  'deprecated-key': { severity: 'warning', summary: 'a key the Supervisor no longer uses' },
  'deprecated-value': { severity: 'warning', summary: 'a value the Supervisor still reads but no longer documents' },
  'deprecated-map': { severity: 'warning', summary: 'an old map spelling (config:rw) beside or instead of the new one' },
  'legacy-map-type': { severity: 'warning', summary: 'a map type the Supervisor renamed' },
  'redundant-access': { severity: 'warning', summary: 'an access right the map type grants anyway' },
  'ignored-key': { severity: 'warning', summary: 'a key the Supervisor accepts but ignores here' },
  'compat-2025': { severity: 'warning', summary: 'valid for the 2026 Supervisor, refused or read otherwise by the 2025 one' },
  'compat-2026': { severity: 'warning', summary: 'valid for the 2025 Supervisor, refused or read otherwise by the 2026 one' },
  // Options and their schema.
  'schema-element': { severity: 'error', summary: 'a schema value the option language does not know (str, int(1,5), list(a|b), ...)' },
  'schema-nesting': { severity: 'error', summary: 'options nested deeper than the Supervisor allows (a list of lists)' },
  'schema-regex': { severity: 'error', summary: 'a match(...) pattern Python does not compile: the Supervisor fails when it checks a value of the option', stricter: true },
  'schema-bound': { severity: 'error', summary: 'a range bound of int(...)/float(...)/str(...) Python cannot read' },
  'schema-key-type': { severity: 'error', summary: 'a schema key that is not text' },
  'schema-element-empty': { severity: 'warning', summary: 'an empty schema element' },
  'schema-empty-list': { severity: 'error', summary: 'an empty list as an option\'s schema: the Supervisor installs the add-on but fails when it starts it', stricter: true },
  'schema-list-extra': { severity: 'warning', summary: 'a schema list with more than one element; the Supervisor uses the first' },
  'option-invalid': { severity: 'warning', summary: 'a default option the schema refuses: the add-on will not start until the user fixes it' },
  'option-null': { severity: 'warning', summary: 'an optional option whose default is null: the Supervisor refuses to start the add-on with it (a required one left null is the user\'s to set, and not reported)' },
  'unknown-option': { severity: 'warning', summary: 'a default option the schema does not name' },
  // What the Supervisor refuses when the add-on starts, and translations (issue 22).
  'schema-zero': { severity: 'error', summary: '`schema: 0`: read as false when the add-on is installed, but the Supervisor fails on it when the add-on starts', stricter: true },
  'schema-subsystem': { severity: 'error', summary: 'device(subsystem=NAME) with a NAME the Supervisor does not know: it fails when it checks a device for the option', stricter: true },
  'translation-dropped': { severity: 'warning', summary: 'a translation file the Supervisor cannot read or whose schema refuses it: it logs a warning and drops the file' },
  // Build files.
  'build-file-ignored': { severity: 'warning', summary: 'a build file the Supervisor ignores as a whole (its defaults apply)' },
  'deprecated-build-file': { severity: 'warning', summary: 'build.yaml is deprecated since Supervisor 2026.04: move the parameters into the Dockerfile' },
  'legacy-key': { severity: 'warning', summary: 'a legacy build option the Supervisor ignores' },
  'nested-build-file': { severity: 'warning', summary: 'a build file in a subfolder, which the Supervisor also finds' },
  'two-build-files': { severity: 'warning', summary: 'build.yaml and build.json side by side: the Supervisor reads one' },
  // The Dockerfile as the image runs it (the runtime contract: inspect, generate, init, build).
  'dockerfile-invalid': { severity: 'error', summary: 'a Dockerfile instruction Docker would stop at (a COPY source that does not exist, a malformed ENV, an unknown instruction)' },
  'not-carried': { severity: 'warning', summary: 'a Dockerfile instruction or RUN command the addonix image does not carry over (it says what the image will lack)' },
  'dockerfile-variable': { severity: 'warning', summary: 'a variable the Dockerfile uses that nothing sets, which Docker expands to nothing' },
  'init-s6': { severity: 'warning', summary: "init: true with an image that starts s6-overlay's /init, which refuses to run when the Supervisor's Docker init is PID 1" },
  // Repositories and discovery.
  'two-configs': { severity: 'error', summary: 'config.yaml and config.json in one folder', stricter: true },
  'duplicate-slug': { severity: 'error', summary: 'two add-ons of one repository with one slug', stricter: true },
  'no-config': { severity: 'error', summary: 'no add-on config in the folder' },
  'not-found': { severity: 'error', summary: 'the path does not exist' },
  'not-an-addon-file': { severity: 'error', summary: 'a file that is not an add-on\'s config, build or repository file' },
} as const satisfies Record<string, FindingInfo>;

export type FindingCode = keyof typeof FINDING_CODES;

/** The exit statuses of every command. */
export const EXIT_STATUSES = {
  0: 'success: the command did what it was asked, found nothing wrong',
  1: 'findings (validate, verify), images that differ (diff), or a failure (an error below, or a build that failed)',
  2: 'wrong usage: an unknown command or option, a missing or bad argument, an arch the add-on does not list; and every failure of diff, which exits as diff(1) does (0 identical, 1 different, 2 trouble)',
  130: 'interrupted (Ctrl-C or SIGTERM): what was under way was stopped and nothing half-written was left',
} as const;

export interface ErrorInfo {
  exit: 1 | 2 | 130;
  summary: string;
}

/** The codes of the errors that stop a command (util/errors.ts), with their exit status. */
export const ERROR_CODES = {
  usage: { exit: 2, summary: 'the command line is wrong: the message says what, `addonix <command> --help` how' },
  interrupted: { exit: 130, summary: 'stopped by Ctrl-C or SIGTERM' },
  'not-found': { exit: 1, summary: 'a file, folder or image named on the command line does not exist' },
  'not-writable': { exit: 1, summary: 'a place addonix must write is not writable for this user (EACCES, EPERM)' },
  'not-readable': { exit: 1, summary: 'a file or folder addonix must read is not readable for this user, or is no file (a folder, a FIFO, a device)' },
  'disk-full': { exit: 1, summary: 'no space left where addonix writes (ENOSPC, EDQUOT)' },
  'read-only': { exit: 1, summary: 'the file system addonix must write is read-only (EROFS)' },
  exists: { exit: 1, summary: 'a file or folder addonix would write exists with other content: remove it, name another, or pass --force where the command has it' },
  'addon-invalid': { exit: 1, summary: 'the add-on has errors (addonix validate lists them)' },
  'no-addon': { exit: 1, summary: 'no add-on where one is needed (no config.yaml, config.yml or config.json)' },
  'npm-project': { exit: 1, summary: 'the add-on\'s npm project cannot be read: package.json, package-lock.json' },
  'native-unsupported': { exit: 1, summary: 'a native npm package has no binary and no way to build one for a target' },
  'generated-stale': { exit: 1, summary: 'generated data is missing or out of date: run addonix generate' },
  'nix-missing': { exit: 1, summary: 'Nix is not installed, or too old, or refuses flakes' },
  'nix-failed': { exit: 1, summary: 'Nix failed to evaluate or build: its message, the log tail and a hint follow' },
  'no-builder': { exit: 1, summary: 'a derivation would have to be built for a system this machine cannot build (a package the binary cache lacks): the message names it and what to do' },
  'flake-missing': { exit: 1, summary: 'no flake.nix where one is needed, or the flake has no image for an arch' },
  'image-invalid': { exit: 1, summary: 'an image archive, layout or document addonix refuses: truncated, inconsistent, or not an image' },
  'image-hostile': { exit: 1, summary: 'a layer whose contents break the layer rules (leaving the root, device nodes without --allow-devices)' },
  'image-unsupported': { exit: 1, summary: 'an image in a form addonix does not read (a media type, a compression)' },
  'platform-missing': { exit: 1, summary: 'the image or index has no image for the arch asked' },
  'registry-auth': { exit: 1, summary: 'the registry refused the credentials, or found none: docker login, or --username with --password-stdin' },
  'registry-unreachable': { exit: 1, summary: 'the registry did not answer within the retry budget or the timeouts' },
  'registry-refused': { exit: 1, summary: 'the registry refused a request (the message gives its answer)' },
  'registry-not-found': { exit: 1, summary: 'the repository, tag or blob is not in the registry' },
  credentials: { exit: 1, summary: 'the Docker credential configuration cannot be read or its helper failed' },
  'engine-missing': { exit: 1, summary: 'neither a running Docker nor Podman is there to load into' },
  'engine-failed': { exit: 1, summary: 'docker load or podman load failed' },
  'git-failed': { exit: 1, summary: 'git failed (staging what init wrote)' },
  internal: { exit: 1, summary: 'a bug in addonix: the message has the stack trace to report' },
  // Images and their cache (issue 20).
  'cache-gone': { exit: 1, summary: "addonix's cache folder, or a file in it, was removed while addonix used it: run the command again" },
  // Signatures (issue 21).
  'signing-key': { exit: 1, summary: 'a signing or verification key cannot be read: its file, its format, or COSIGN_PASSWORD' },
  'signature-invalid': { exit: 1, summary: 'the image has no signature or attestation that verifies with the key, or the keyless identity, given' },
  'trusted-root': { exit: 1, summary: "the trusted root file (sigstore's trusted_root.json) cannot be read, or is not one" },
} as const satisfies Record<string, ErrorInfo>;

export type ErrorCode = keyof typeof ERROR_CODES;
