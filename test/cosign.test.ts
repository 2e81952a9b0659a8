/**
 * Signatures as cosign makes and checks them: `addonix push --sign` against a real registry (Debian's
 * docker-registry), checked by the real cosign 2.5 (`cosign verify --key`, offline: no transparency
 * log), and `addonix verify --key --signatures-only` against cosign's own verdicts on the same registry
 * contents: signed by addonix, signed by cosign, signed with another key, a payload changed after
 * signing, a signature of another digest. About 5 s: small images, one cosign call per check.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { jsonError, needTools, REPO, tempTree } from './helpers.js';
// The CLI in this process (a process each cost half a second of CPU to start: sigstore's modules).
import { runCliInProcess } from './in-process-cli.js';
import { archLayers, dockerToolsEntries, writeTarFile } from './images.js';
import { startRegistry, tagDigests, type Registry } from './registry-helpers.js';

interface PushJson {
  index: string | null;
  manifests: { arch: string; digest: string }[];
  signed: { repository: string; digest: string; tag: string; added: number }[];
}

interface SignatureJson {
  verified: boolean;
  manifests: { digest: string; role: string; platform: string | null; signature: { verified: boolean; reason: string }; attestations: { verified: string[]; refused: { reason: string }[] } | null }[];
}

const PASSWORD = 'correct horse';
const EXAMPLE = path.join(REPO, 'examples', 'sqlite-notes');

/** Two small arch images as dockerTools tarballs, cosign key pairs made by cosign itself, and the env for addonix. */
async function setup(t: TestContext) {
  const dir = tempTree(t, {});
  const files = [
    await writeTarFile(path.join(dir, 'arm.tar'), dockerToolsEntries({ goarch: 'arm64', layers: await archLayers('aarch64') })),
    await writeTarFile(path.join(dir, 'amd.tar'), dockerToolsEntries({ goarch: 'amd64', layers: await archLayers('amd64') })),
  ];
  const env = { ADDONIX_CACHE_DIR: path.join(dir, 'cache'), DOCKER_CONFIG: path.join(dir, 'docker'), COSIGN_PASSWORD: PASSWORD };
  for (const prefix of ['cosign', 'other']) {
    execFileSync('cosign', ['generate-key-pair', '--output-key-prefix', prefix], { cwd: dir, env: { ...process.env, COSIGN_PASSWORD: PASSWORD }, stdio: 'pipe' });
  }
  return { dir, files, env, key: path.join(dir, 'cosign.key'), pub: path.join(dir, 'cosign.pub'), otherPub: path.join(dir, 'other.pub') };
}

async function push(args: string[], env: Record<string, string>): Promise<PushJson> {
  const result = await runCliInProcess(['push', '--json', ...args], { env });
  assert.equal(result.status, 0, result.stderr + result.stdout);
  return JSON.parse(result.stdout) as PushJson;
}

/** cosign's verdict: its exit status and what it printed (the verified payloads on stdout). */
function cosignVerify(reference: string, pub: string, kind: 'verify' | 'verify-attestation' = 'verify', extra: string[] = []) {
  const result = spawnSync('cosign', [kind, '--key', pub, '--insecure-ignore-tlog', '--allow-http-registry', ...extra, reference], { encoding: 'utf8', env: { ...process.env, COSIGN_EXPERIMENTAL: '' } });
  return { ok: result.status === 0, stdout: result.stdout, stderr: result.stderr };
}

/** addonix's verdict on the same reference. */
async function addonixVerify(reference: string, pub: string, env: Record<string, string>): Promise<{ ok: boolean; report?: SignatureJson; error?: { code: string; message: string } }> {
  const result = await runCliInProcess(['verify', '--key', pub, '--signatures-only', '--against', reference, '--json'], { env });
  if (result.status === 0) return { ok: true, report: JSON.parse(result.stdout) as SignatureJson };
  assert.equal(result.status, 1, result.stderr);
  return { ok: false, error: jsonError(result.stdout, 'verify --key') };
}

const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** Writes a blob and a manifest straight to the registry, as a tamperer with push rights would. */
async function putRaw(registry: Registry, repository: string, blobs: Buffer[], tag: string, manifest: object): Promise<void> {
  for (const blob of blobs) {
    const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(started.headers.get('location')!, registry.url);
    location.searchParams.set('digest', sha(blob));
    const put = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(put.status, 201, await put.text());
  }
  const put = await fetch(`${registry.url}/v2/${repository}/manifests/${tag}`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(put.status, 201, await put.text());
}

async function getJson(registry: Registry, repository: string, what: string): Promise<Record<string, any>> {
  const response = await fetch(`${registry.url}/v2/${repository}/${what}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(response.status, 200, what);
  return (await response.json()) as Record<string, any>;
}

test('push --sign with cosign.key: cosign verify accepts the index and both manifests, verify-attestation their SBOMs; another key is refused by cosign and addonix alike', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign')) return;
  const registry = await startRegistry(t);
  const { files, env, key, pub, otherPub } = await setup(t);
  const repo = `${registry.host}/me/signed`;
  const pushed = await push(['--to', repo, '--tag', '1.0.0', '--sign', key, '--addon', EXAMPLE, ...files], env);
  const digests = [pushed.index!, ...pushed.manifests.map((m) => m.digest)];
  const signatures = pushed.signed.filter((s) => s.tag.endsWith('.sig'));
  assert.deepEqual(signatures.map((s) => s.digest).sort(), [...digests].sort(), 'the index and each manifest signed');
  assert.ok(signatures.every((s) => s.added === 1 && s.tag === `sha256-${s.digest.slice(7)}.sig`));
  const attested = pushed.signed.filter((s) => s.tag.endsWith('.att'));
  assert.deepEqual(attested.map((s) => s.digest).sort(), pushed.manifests.map((m) => m.digest).sort(), 'an SBOM per arch');

  for (const digest of digests) {
    const verdict = cosignVerify(`${repo}@${digest}`, pub);
    assert.ok(verdict.ok, `cosign verify ${digest}: ${verdict.stderr}`);
    const payloads = JSON.parse(verdict.stdout) as { critical: { image: { 'docker-manifest-digest': string }; identity: { 'docker-reference': string } } }[];
    assert.deepEqual(payloads.map((p) => p.critical.image['docker-manifest-digest']), [digest]);
    assert.equal(payloads[0]!.critical.identity['docker-reference'], repo);
    const refused = cosignVerify(`${repo}@${digest}`, otherPub);
    assert.ok(!refused.ok && /no matching signatures/.test(refused.stderr), `cosign with another key: ${refused.stderr}`);
  }
  for (const { arch, digest } of pushed.manifests) {
    const verdict = cosignVerify(`${repo}@${digest}`, pub, 'verify-attestation', ['--type', 'cyclonedx']);
    assert.ok(verdict.ok, `cosign verify-attestation ${arch}: ${verdict.stderr}`);
    const envelope = JSON.parse(verdict.stdout.trim().split('\n')[0]!) as { payload: string };
    const statement = JSON.parse(Buffer.from(envelope.payload, 'base64').toString('utf8')) as { subject: { digest: { sha256: string } }[]; predicate: { bomFormat: string; specVersion: string; metadata: { component: { properties: { name: string; value: string }[] } }; components: { name: string }[] } };
    assert.equal(statement.subject[0]!.digest.sha256, digest.slice(7));
    assert.equal(statement.predicate.bomFormat, 'CycloneDX');
    assert.ok(statement.predicate.metadata.component.properties.some((p) => p.name === 'addonix:arch' && p.value === arch));
    assert.ok(statement.predicate.components.some((c) => c.name === 'better-sqlite3'), 'the npm packages of the add-on');
    const refused = cosignVerify(`${repo}@${digest}`, otherPub, 'verify-attestation', ['--type', 'cyclonedx']);
    assert.ok(!refused.ok, 'cosign verify-attestation with another key');
  }

  const ours = await addonixVerify(`${repo}:1.0.0`, pub, env);
  assert.ok(ours.ok);
  assert.deepEqual(ours.report!.manifests.map((m) => [m.digest, m.signature.verified]).sort(), digests.map((d) => [d, true]).sort());
  for (const manifest of ours.report!.manifests) assert.deepEqual(manifest.attestations?.verified ?? null, manifest.role === 'index' ? null : ['https://cyclonedx.org/bom']);
  const theirs = await addonixVerify(`${repo}:1.0.0`, otherPub, env);
  assert.equal(theirs.error?.code, 'signature-invalid');
  assert.match(theirs.error!.message, /no matching signatures: invalid signature/);

  // Pushed and signed again: the signature manifests keep their one layer (this key's signature is there).
  const again = await push(['--to', repo, '--tag', '1.0.0', '--sign', key, '--addon', EXAMPLE, ...files], env);
  assert.ok(again.signed.every((s) => s.added === 0), JSON.stringify(again.signed));
  assert.equal((await getJson(registry, 'me/signed', `manifests/sha256-${pushed.index!.slice(7)}.sig`))['layers'].length, 1);
});

test('push --sign with PEM PKCS#8 P-256 keys (plain and encrypted); a wrong COSIGN_PASSWORD moves no tag', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign', 'openssl')) return;
  const registry = await startRegistry(t);
  const { dir, files, env, key } = await setup(t);
  const plain = path.join(dir, 'ec.pem');
  const encrypted = path.join(dir, 'ec-encrypted.pem');
  const pub = path.join(dir, 'ec.pub');
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', plain]);
  execFileSync('openssl', ['pkcs8', '-topk8', '-in', plain, '-out', encrypted, '-passout', `pass:${PASSWORD}`]);
  execFileSync('openssl', ['pkey', '-in', plain, '-pubout', '-out', pub]);
  assert.match(readFileSync(encrypted, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);

  for (const [name, file] of [['plain', plain], ['encrypted', encrypted]] as const) {
    const repo = `${registry.host}/me/pem-${name}`;
    const pushed = await push(['--to', repo, '--tag', '1', '--sign', file, files[1]!], env);
    const verdict = cosignVerify(`${repo}@${pushed.manifests[0]!.digest}`, pub);
    assert.ok(verdict.ok, `${name}: ${verdict.stderr}`);
  }

  const wrong = await runCliInProcess(['push', '--json', '--to', `${registry.host}/me/wrong`, '--tag', '1', '--sign', key, ...files], { env: { ...env, COSIGN_PASSWORD: 'not it' } });
  assert.equal(wrong.status, 1);
  const error = jsonError(wrong.stdout, 'push with a wrong password');
  assert.equal(error.code, 'signing-key');
  assert.match(error.message, /COSIGN_PASSWORD does not decrypt/);
  assert.deepEqual(await tagDigests(registry.url, 'me/wrong', ['1']), { '1': null }, 'nothing tagged');
  const unset: Record<string, string> = { ...env };
  delete unset['COSIGN_PASSWORD'];
  const noPassword = await runCliInProcess(['push', '--json', '--to', `${registry.host}/me/wrong`, '--tag', '1', '--sign', key, ...files], { env: { ...unset, COSIGN_PASSWORD: '' } });
  assert.equal(jsonError(noPassword.stdout, 'push with an empty password').code, 'signing-key');
});

test('verify --key refuses as cosign does: a payload changed after signing, a signature of another digest; accepts what cosign signed and attested', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign')) return;
  const registry = await startRegistry(t);
  const { files, env, key, pub } = await setup(t);
  const repository = 'me/refusals';
  const repo = `${registry.host}/${repository}`;
  const pushed = await push(['--to', repo, '--tag', '1', '--sign', key, ...files], env);
  const [arm, amd] = [pushed.manifests.find((m) => m.arch === 'aarch64')!.digest, pushed.manifests.find((m) => m.arch === 'amd64')!.digest];
  const both = async (reference: string) => ({ cosign: cosignVerify(reference, pub), addonix: await addonixVerify(reference, pub, env) });

  // A tampered payload: the amd64 signature's payload names another repository, the signature kept.
  const sigTag = (digest: string) => `sha256-${digest.slice(7)}.sig`;
  const signature = await getJson(registry, repository, `manifests/${sigTag(amd)}`);
  const layer = signature['layers'][0];
  const payload = Buffer.from(await (await fetch(`${registry.url}/v2/${repository}/blobs/${layer.digest}`)).arrayBuffer());
  const tampered = Buffer.from(payload.toString('utf8').replace(`"docker-reference":"${repo}"`, `"docker-reference":"${registry.host}/evil/image"`));
  assert.notDeepEqual(tampered, payload);
  const config = Buffer.from(JSON.stringify({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [sha(tampered)] }, config: {} }));
  await putRaw(registry, repository, [tampered, config], sigTag(amd), {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) },
    layers: [{ ...layer, size: tampered.length, digest: sha(tampered) }],
  });
  const afterTamper = await both(`${repo}@${amd}`);
  assert.ok(!afterTamper.cosign.ok && /invalid signature/.test(afterTamper.cosign.stderr), `cosign: ${afterTamper.cosign.stderr}`);
  assert.equal(afterTamper.addonix.error?.code, 'signature-invalid');
  assert.match(afterTamper.addonix.error!.message, /invalid signature when validating ASN\.1 encoded signature/);

  // A signature of another digest: aarch64's signature manifest put under the amd64 manifest's tag.
  const armSignature = await getJson(registry, repository, `manifests/${sigTag(arm)}`);
  await putRaw(registry, repository, [], sigTag(amd), armSignature);
  const otherDigest = await both(`${repo}@${amd}`);
  assert.ok(!otherDigest.cosign.ok && /no matching signatures/.test(otherDigest.cosign.stderr), `cosign: ${otherDigest.cosign.stderr}`);
  assert.equal(otherDigest.addonix.error?.code, 'signature-invalid');
  assert.match(otherDigest.addonix.error!.message, new RegExp(`invalid or missing digest in claim: signed for ${arm}`));
  // The index is refused too now, one of its manifests being unsigned; its own signature still verifies.
  const index = await both(`${repo}:1`);
  assert.ok(index.cosign.ok, 'cosign checks the index digest only');
  assert.equal(index.addonix.error?.code, 'signature-invalid');

  // What cosign signs and attests itself: addonix takes it (an image pushed unsigned, then cosign sign and attest).
  const plainRepo = `${registry.host}/me/by-cosign`;
  const plain = await push(['--to', plainRepo, '--tag', '1', files[1]!], env);
  const digest = plain.manifests[0]!.digest;
  assert.equal((await addonixVerify(`${plainRepo}@${digest}`, pub, env)).error?.code, 'signature-invalid', 'unsigned');
  const cosignEnv = { ...process.env, COSIGN_PASSWORD: PASSWORD };
  execFileSync('cosign', ['sign', '--key', key, '--tlog-upload=false', '--allow-http-registry', '-y', `${plainRepo}@${digest}`], { env: cosignEnv, stdio: 'pipe' });
  const predicate = path.join(path.dirname(key), 'bom.json');
  execFileSync('sh', ['-c', `printf '%s' '{"bomFormat":"CycloneDX","specVersion":"1.6","version":1}' > "${predicate}"`]);
  execFileSync('cosign', ['attest', '--key', key, '--tlog-upload=false', '--allow-http-registry', '-y', '--type', 'cyclonedx', '--predicate', predicate, `${plainRepo}@${digest}`], { env: cosignEnv, stdio: 'pipe' });
  const accepted = await addonixVerify(`${plainRepo}@${digest}`, pub, env);
  assert.ok(accepted.ok, JSON.stringify(accepted.error));
  assert.deepEqual(accepted.report!.manifests[0]!.attestations?.verified, ['https://cyclonedx.org/bom']);
});

test('push --sign --provenance: SLSA provenance v1 of the index and each manifest (the flake.lock inputs, the add-on\'s git revision, addonix and Nix), which cosign verify-attestation accepts', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign', 'nix', 'git')) return;
  const registry = await startRegistry(t);
  const { dir, files, env, key, pub } = await setup(t);
  // The add-on as its own flake, in a git checkout: the example's files, a flake with addonix's flake.lock.
  const addon = path.join(dir, 'addon');
  cpSync(EXAMPLE, addon, { recursive: true });
  writeFileSync(path.join(addon, 'flake.nix'), '{ inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05"; outputs = _: { }; }\n');
  copyFileSync(path.join(REPO, 'flake.lock'), path.join(addon, 'flake.lock'));
  const git = (...args: string[]) => execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.org', ...args], { cwd: addon, encoding: 'utf8' }).trim();
  git('init', '-q');
  git('add', '-A');
  git('commit', '-q', '-m', 'add-on');
  const revision = git('rev-parse', 'HEAD');
  const lock = JSON.parse(readFileSync(path.join(REPO, 'flake.lock'), 'utf8')) as { nodes: { nixpkgs: { locked: { rev: string } } } };

  const repo = `${registry.host}/me/provenance`;
  const pushed = await push(['--to', repo, '--tag', '1', '--sign', key, '--addon', addon, '--provenance', ...files], env);
  for (const digest of [pushed.index!, ...pushed.manifests.map((m) => m.digest)]) {
    const verdict = cosignVerify(`${repo}@${digest}`, pub, 'verify-attestation', ['--type', 'slsaprovenance1']);
    assert.ok(verdict.ok, `cosign verify-attestation --type slsaprovenance1 ${digest}: ${verdict.stderr}`);
    const envelopes = verdict.stdout.trim().split('\n').map((line) => JSON.parse(line) as { payload: string });
    const statements = envelopes.map((e) => JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as { predicateType: string; subject: { digest: { sha256: string } }[]; predicate: any });
    const provenance = statements.find((s) => s.predicateType === 'https://slsa.dev/provenance/v1')!;
    assert.equal(provenance.subject[0]!.digest.sha256, digest.slice(7));
    const { buildDefinition, runDetails } = provenance.predicate as {
      buildDefinition: { resolvedDependencies: { name: string; uri?: string; digest: Record<string, string> }[]; externalParameters: { arch?: string } };
      runDetails: { builder: { id: string; version: { nix: string } } };
    };
    assert.equal(runDetails.builder.id, 'pkg:npm/addonix@0.1.0');
    assert.match(runDetails.builder.version.nix, /^\d+\.\d+/);
    assert.equal(buildDefinition.resolvedDependencies.find((d) => d.name === 'nixpkgs')?.digest['gitCommit'], lock.nodes.nixpkgs.locked.rev, 'flake.lock\'s nixpkgs');
    assert.equal(buildDefinition.resolvedDependencies.find((d) => d.name === 'self')?.digest['gitCommit'], revision, 'the add-on\'s git revision');
    assert.equal(buildDefinition.externalParameters.arch, pushed.manifests.find((m) => m.digest === digest)?.arch);
  }
  const usage = await runCliInProcess(['push', '--to', repo, '--tag', '1', '--provenance', ...files], { env });
  assert.equal(usage.status, 2, 'provenance without --sign is a usage mistake');
});
