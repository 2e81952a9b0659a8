/**
 * Keyless cosign signatures checked offline (`verify --signatures-only` and `pin-base` with
 * --certificate-identity, --certificate-oidc-issuer and --trusted-root) against the real cosign 2.5's
 * verdicts on the same registry contents (Debian's docker-registry). Every signature here is made by
 * cosign itself (`cosign sign --key … --certificate … --certificate-chain … --rekor-url …`), which writes
 * the certificate, chain and Rekor bundle annotations as keyless signing does.
 *
 * Two stand-ins, since Fulcio and Rekor are not reachable here:
 * - a CA shaped like Fulcio, made with openssl: a root, an intermediate with the code-signing extended
 *   key usage (sigstore/fulcio pkg/ca/common.go, VerifyCertChain: EKU chaining), and leaves as MakeX509
 *   writes them: an empty subject, valid ten minutes, digital signature, code signing; the critical SAN
 *   URI of a GitHub workflow (pkg/identity/github: the job_workflow_ref as a URL), and the OIDC issuer in
 *   1.3.6.1.4.1.57264.1.1 (the raw text) and 1.3.6.1.4.1.57264.1.8 (a DER UTF8String) as
 *   pkg/certificate/extensions.go renders them. It embeds no SCT (Fulcio's come from its CT log): both
 *   tools are run with --insecure-ignore-sct, and once without it, where both refuse.
 * - a Rekor in this process: `POST /api/v1/log/entries` answers 201 with the LogEntry of Rekor's API
 *   (sigstore/rekor openapi.yaml: body, the entry as Rekor stores it, base64; integratedTime; logID, the
 *   SHA-256 of the log key's DER; logIndex; verification.signedEntryTimestamp, an ECDSA signature of the
 *   canonical JSON of those four, which cosign's VerifySET checks; verification.inclusionProof with its
 *   checkpoint, a signed note), signed with a test log key. cosign uploads to it and makes the offline
 *   bundle from its answer. Each entry is the second leaf of a tree of two whose first leaf is made up:
 *   its inclusion proof is real, the log behind it is not.
 *
 * Signatures in both of cosign's forms: the classic one (`sha256-<hex>.sig` layers with the certificate,
 * chain and Rekor bundle annotations; cosign 2's `sign`), and a Sigstore bundle attached as an OCI
 * referrer (cosign 3's default `sign`: a DSSE in-toto statement of predicate type
 * https://sigstore.dev/cosign/sign/v1 about the digest), which cosign 2.5 writes with `attest
 * --new-bundle-format` and that predicate type and checks with `verify-attestation --new-bundle-format`.
 * For the classic form cosign 2.5 reads its trust from --certificate-chain (the test CA's intermediate and
 * root) and SIGSTORE_REKOR_PUBLIC_KEY; for bundles from --trusted-root (and SIGSTORE_ROOT_FILE, without
 * which it asks TUF); addonix gets the same material as a trusted_root.json. Cost: about 28 s of CPU (user and
 * system) for the file, 38 s wall at a load average of 11 (65 s for the first test within a full suite
 * run): eight small images, one cosign sign or attest each, a cosign verify and an addonix run per
 * verdict, side by side.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { jsonError, needTools, tempTree } from './helpers.js';
// The CLI in this process: 24 command lines, a process each cost about half a second of CPU (sigstore's modules).
import { runCliInProcess } from './in-process-cli.js';
import { startRegistry, type Registry } from './registry-helpers.js';
import { readSigningKey } from '../src/registry/cosign-keys.js';

const run = promisify(execFile);
const WORKFLOW = 'https://github.com/home-assistant/docker-base/.github/workflows/builder.yml@refs/heads/master';
const ISSUER = 'https://token.actions.githubusercontent.com';
const SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

const sha = (data: Buffer | string) => `sha256:${createHash('sha256').update(data).digest('hex')}`;
const der = (key: KeyObject) => (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' });

/** JSON with sorted keys and no spaces (RFC 8785 for the values Rekor's entries hold). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  return JSON.stringify(value);
}

interface ProposedEntry {
  kind: string;
  apiVersion: string;
  spec: { proposedContent?: { envelope: string; verifiers: string[] } };
}

/**
 * The entry as Rekor stores it: a hashedrekord as proposed; a dsse entry (sigstore/rekor
 * pkg/types/dsse/v0.0.1/entry.go, Canonicalize) by the hashes of its envelope and payload and its
 * signatures with their verifiers, without the envelope.
 */
function storedEntry(proposed: ProposedEntry): unknown {
  if (proposed.kind !== 'dsse') return proposed;
  const { envelope, verifiers } = proposed.spec.proposedContent!;
  const parsed = JSON.parse(envelope) as { payload: string; signatures: { sig: string }[] };
  const hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
  return {
    apiVersion: proposed.apiVersion,
    kind: 'dsse',
    spec: {
      envelopeHash: { algorithm: 'sha256', value: hex(envelope) },
      payloadHash: { algorithm: 'sha256', value: hex(Buffer.from(parsed.payload, 'base64')) },
      signatures: parsed.signatures.map((s) => ({ signature: s.sig, verifier: verifiers[0] })).sort((a, b) => (a.signature < b.signature ? -1 : 1)),
    },
  };
}

/** The Rekor stand-in (see the module comment); `next` sets how the following entry is logged. */
async function startRekor(t: TestContext, logKey: KeyObject) {
  // From 1: sigstore-go refuses an entry at index 0 (its proto JSON omits the zero).
  const state = { key: logKey, shiftSeconds: 0, index: 1 };
  const server = http.createServer((request, response) => {
    let text = '';
    request.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
    request.on('end', () => {
      if (request.method !== 'POST' || request.url !== '/api/v1/log/entries') {
        response.writeHead(404, { 'content-type': 'application/json' }).end('{"code":404,"message":"not found"}');
        return;
      }
      const stored = Buffer.from(canonical(storedEntry(JSON.parse(text) as ProposedEntry)));
      const body = stored.toString('base64');
      const logKeyId = createHash('sha256').update(der(createPublicKey(state.key))).digest();
      const entry = { body, integratedTime: Math.floor(Date.now() / 1000) + state.shiftSeconds, logID: logKeyId.toString('hex'), logIndex: state.index++ };
      const signedEntryTimestamp = sign('sha256', Buffer.from(canonical(entry)), state.key).toString('base64');
      // The inclusion proof in a tree of two leaves (RFC 6962 hashing), the entry second, with the
      // checkpoint as a signed note of the tree: what a Sigstore bundle (v0.3) must carry.
      const hash = (...parts: Buffer[]) => createHash('sha256').update(Buffer.concat(parts)).digest();
      const sibling = hash(Buffer.from([0]), Buffer.from('an earlier entry'));
      const root = hash(Buffer.from([1]), sibling, hash(Buffer.from([0]), stored));
      const note = `rekor.test - 1\n2\n${root.toString('base64')}\n`;
      const noteSignature = Buffer.concat([logKeyId.subarray(0, 4), sign('sha256', Buffer.from(note), state.key)]).toString('base64');
      const inclusionProof = { checkpoint: `${note}\n\u2014 rekor.test ${noteSignature}\n`, hashes: [sibling.toString('hex')], logIndex: 1, rootHash: root.toString('hex'), treeSize: 2 };
      const uuid = createHash('sha256').update(body).digest('hex');
      response.writeHead(201, { 'content-type': 'application/json', location: `/api/v1/log/entries/${uuid}`, etag: uuid });
      response.end(JSON.stringify({ [uuid]: { ...entry, verification: { signedEntryTimestamp, inclusionProof } } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    next(options: { key?: KeyObject; shiftSeconds?: number }) {
      state.key = options.key ?? logKey;
      state.shiftSeconds = options.shiftSeconds ?? 0;
    },
  };
}

const openssl = (cwd: string, ...args: string[]) => run('openssl', args, { cwd });

/** A Fulcio-shaped CA in `dir`/NAME (see the module comment): root and intermediate. */
async function makeCa(dir: string, name: string): Promise<{ dir: string; chain: string; root: string; intermediate: string }> {
  const ca = path.join(dir, name);
  mkdirSync(ca);
  writeFileSync(path.join(ca, 'index.txt'), '');
  writeFileSync(path.join(ca, 'serial'), '01\n');
  writeFileSync(path.join(ca, 'ca.cnf'), '[ca]\ndefault_ca = fulcio\n[fulcio]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n[any]\n');
  writeFileSync(path.join(ca, 'intermediate.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nextendedKeyUsage=codeSigning\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await openssl(ca, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'root.key');
  await openssl(ca, 'req', '-x509', '-new', '-key', 'root.key', '-subj', `/O=${name}.test/CN=${name}`, '-days', '30', '-out', 'root.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  await openssl(ca, 'ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'intermediate.key');
  await openssl(ca, 'req', '-new', '-key', 'intermediate.key', '-subj', `/O=${name}.test/CN=${name}-intermediate`, '-out', 'intermediate.csr');
  await openssl(ca, 'x509', '-req', '-in', 'intermediate.csr', '-CA', 'root.pem', '-CAkey', 'root.key', '-set_serial', '2', '-days', '30', '-extfile', 'intermediate.ext', '-out', 'intermediate.pem');
  const chain = path.join(ca, 'chain.pem');
  writeFileSync(chain, readFileSync(path.join(ca, 'intermediate.pem'), 'utf8') + readFileSync(path.join(ca, 'root.pem'), 'utf8'));
  return { dir: ca, chain, root: path.join(ca, 'root.pem'), intermediate: path.join(ca, 'intermediate.pem') };
}

/** A leaf for the signer's key, as Fulcio issues it: ten minutes from now, the workflow's SAN, the issuer. */
async function issueLeaf(ca: { dir: string }, keyPem: string, name: string, identity = WORKFLOW, issuer = ISSUER): Promise<string> {
  const keyFile = path.join(ca.dir, `${name}.key`);
  writeFileSync(keyFile, keyPem);
  writeFileSync(
    path.join(ca.dir, `${name}.ext`),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature',
      'extendedKeyUsage=codeSigning',
      `subjectAltName=critical,URI:${identity}`,
      `1.3.6.1.4.1.57264.1.1=DER:${Buffer.from(issuer).toString('hex')}`,
      `1.3.6.1.4.1.57264.1.8=ASN1:UTF8String:${issuer}`,
      'subjectKeyIdentifier=hash',
      'authorityKeyIdentifier=keyid',
    ].join('\n') + '\n',
  );
  await openssl(ca.dir, 'req', '-new', '-key', keyFile, '-subj', '/', '-out', `${name}.csr`);
  // From this second (not before: the intermediate, made earlier, must be valid at the leaf's start, where cosign sign checks the chain).
  const stamp = (date: Date) => date.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';
  const now = Date.now();
  await openssl(ca.dir, 'ca', '-batch', '-config', 'ca.cnf', '-cert', 'intermediate.pem', '-keyfile', 'intermediate.key', '-in', `${name}.csr`, '-out', `${name}.pem`, '-notext', '-extfile', `${name}.ext`, '-startdate', stamp(new Date(now)), '-enddate', stamp(new Date(now + 10 * 60 * 1000)));
  return path.join(ca.dir, `${name}.pem`);
}

/** A small single-arch image (one config, no layers); `name` makes its digest its own. */
async function pushImage(registry: Registry, repository: string, name: string): Promise<string> {
  const put = async (blob: Buffer) => {
    const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(started.headers.get('location')!, registry.url);
    location.searchParams.set('digest', sha(blob));
    const response = await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } });
    assert.equal(response.status, 201, await response.text());
  };
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: { Labels: { case: name } }, rootfs: { type: 'layers', diff_ids: [] } }));
  await put(config);
  const manifest = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) }, layers: [] }));
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/${name}`, { method: 'PUT', body: manifest, headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(response.status, 201, await response.text());
  return sha(manifest);
}

/** sigstore's trusted_root.json (sigstore/protobuf-specs TrustedRoot) of a CA, a log key and a CT log key. */
function trustedRoot(ca: { root: string; intermediate: string }, logKey: KeyObject, ctKey: KeyObject): object {
  const certDer = (file: string) => Buffer.from(readFileSync(file, 'utf8').replace(/-----[^-]+-----|\s+/g, ''), 'base64').toString('base64');
  const key = (k: KeyObject) => ({ rawBytes: der(k).toString('base64'), keyDetails: 'PKIX_ECDSA_P256_SHA_256', validFor: { start: '2020-01-01T00:00:00Z' } });
  const logId = (k: KeyObject) => ({ keyId: createHash('sha256').update(der(k)).digest('base64') });
  return {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [{ baseUrl: 'http://rekor.test', hashAlgorithm: 'SHA2_256', publicKey: key(logKey), logId: logId(logKey) }],
    certificateAuthorities: [{ subject: { organization: 'fulcio.test', commonName: 'fulcio' }, uri: 'http://fulcio.test', certChain: { certificates: [{ rawBytes: certDer(ca.intermediate) }, { rawBytes: certDer(ca.root) }] }, validFor: { start: '2020-01-01T00:00:00Z' } }],
    ctlogs: [{ baseUrl: 'http://ctfe.test', hashAlgorithm: 'SHA2_256', publicKey: key(ctKey), logId: logId(ctKey) }],
    timestampAuthorities: [],
  };
}

test('keyless signatures, offline, classic and as Sigstore bundles: addonix and cosign 2.5 accept the right identity and issuer, and both refuse another identity, another issuer, another CA, a changed payload, an expired certificate, an unknown log, a signature made with a key and a missing SCT', async (t) => {
  if (!needTools(t, 'docker-registry', 'cosign', 'openssl')) return;
  const dir = tempTree(t, {});
  const ecKey = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
  const [logKey, otherLogKey, ctKey] = [ecKey(), ecKey(), ecKey()];
  const [registry, rekor, fulcio, otherCa] = await Promise.all([startRegistry(t), startRekor(t, logKey), makeCa(dir, 'fulcio'), makeCa(dir, 'other')]);
  const repo = `${registry.host}/home-assistant/base`;
  const pem = (file: string, key: KeyObject) => (writeFileSync(path.join(dir, file), createPublicKey(key).export({ format: 'pem', type: 'spki' })), path.join(dir, file));
  const cosignEnv = { ...process.env, COSIGN_PASSWORD: '', TUF_ROOT: path.join(dir, 'tuf'), SIGSTORE_REKOR_PUBLIC_KEY: pem('rekor.pub', logKey), SIGSTORE_CT_LOG_PUBLIC_KEY_FILE: pem('ctlog.pub', ctKey) };
  const root = path.join(dir, 'trusted_root.json');
  writeFileSync(root, JSON.stringify(trustedRoot(fulcio, logKey, ctKey), null, 2));

  // The signer's key pair, made by cosign; its certificate from the test CA for its public key.
  await run('cosign', ['generate-key-pair', '--output-key-prefix', 'signer'], { cwd: dir, env: cosignEnv });
  const signerPem = (await readSigningKey(path.join(dir, 'signer.key'), { COSIGN_PASSWORD: '' })).privateKey.export({ format: 'pem', type: 'pkcs8' }) as string;
  const leaf = await issueLeaf(fulcio, signerPem, 'leaf');
  const strangerLeaf = await issueLeaf(otherCa, signerPem, 'leaf');

  const signImage = async (name: string, certificate: string, chain: string, log: { key?: KeyObject; shiftSeconds?: number } = {}) => {
    const digest = await pushImage(registry, 'home-assistant/base', name);
    rekor.next(log);
    await run('cosign', ['sign', '--key', path.join(dir, 'signer.key'), '--certificate', certificate, '--certificate-chain', chain, '--rekor-url', rekor.url, '--allow-http-registry', '-y', `${repo}@${digest}`], { env: cosignEnv });
    return digest;
  };
  const good = await signImage('good', leaf, fulcio.chain);
  const stranger = await signImage('other-ca', strangerLeaf, otherCa.chain);
  // Logged twenty minutes on: after the ten minutes of the certificate.
  const late = await signImage('late', leaf, fulcio.chain, { shiftSeconds: 20 * 60 });
  const unknownLog = await signImage('unknown-log', leaf, fulcio.chain, { key: otherLogKey });
  // cosign 3 signs by default into a Sigstore bundle attached as an OCI referrer (a DSSE statement of
  // predicate type https://sigstore.dev/cosign/sign/v1 about the digest: cosign's signDigestBundle); cosign
  // 2.5 writes the same form with attest --new-bundle-format and that predicate type, from the same Rekor.
  writeFileSync(path.join(dir, 'empty.json'), '{}');
  const attestBundle = async (name: string, certificate: string, chain: string) => {
    const digest = await pushImage(registry, 'home-assistant/base', name);
    rekor.next({});
    await run('cosign', ['attest', '--new-bundle-format', '--type', SIGN_PREDICATE, '--predicate', path.join(dir, 'empty.json'), '--key', path.join(dir, 'signer.key'), '--certificate', certificate, '--certificate-chain', chain, '--rekor-url', rekor.url, '--allow-http-registry', '-y', `${repo}@${digest}`], { env: cosignEnv });
    return digest;
  };
  const bundled = await attestBundle('bundle', leaf, fulcio.chain);
  const bundledByStranger = await attestBundle('bundle-other-ca', strangerLeaf, otherCa.chain);
  const keySigned = await pushImage(registry, 'home-assistant/base', 'key-signed');
  await run('cosign', ['sign', '--key', path.join(dir, 'signer.key'), '--tlog-upload=false', '--allow-http-registry', '-y', `${repo}@${keySigned}`], { env: cosignEnv });

  // A changed payload: good's signature layer (certificate, chain, bundle, signature) over a payload
  // that names another image, as someone with push rights could write it.
  const tampered = await pushImage(registry, 'home-assistant/base', 'tampered');
  const goodSig = (await (await fetch(`${registry.url}/v2/home-assistant/base/manifests/sha256-${good.slice(7)}.sig`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json()) as { layers: { digest: string; annotations: Record<string, string> }[] };
  const goodPayload = Buffer.from(await (await fetch(`${registry.url}/v2/home-assistant/base/blobs/${goodSig.layers[0]!.digest}`)).arrayBuffer());
  const payload = Buffer.from(goodPayload.toString('utf8').replace(good, tampered));
  assert.notEqual(sha(payload), sha(goodPayload));
  await putSignature(registry, 'home-assistant/base', tampered, payload, goodSig.layers[0]!.annotations);

  const identity = ['--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', ISSUER];
  const cosignVerdict = async (digest: string, args: string[], ignoreSct = true, bundle = false) => {
    // For bundles, cosign 2.5 reads the trusted root, yet still asks TUF for Fulcio's roots unless SIGSTORE_ROOT_FILE names them.
    const how = bundle ? ['verify-attestation', '--new-bundle-format', '--trusted-root', root, '--type', SIGN_PREDICATE] : ['verify', '--offline', '--certificate-chain', fulcio.chain];
    const env = bundle ? { ...cosignEnv, SIGSTORE_ROOT_FILE: fulcio.chain } : cosignEnv;
    const result = await run('cosign', [...how, '--allow-http-registry', ...(ignoreSct ? ['--insecure-ignore-sct'] : []), ...args, `${repo}@${digest}`], { env }).then(
      ({ stderr }) => ({ ok: true, stderr }),
      (error: { stderr: string }) => ({ ok: false, stderr: error.stderr }),
    );
    return result;
  };
  const addonixVerdict = async (digest: string, args: string[], ignoreSct = true) => {
    const result = await runCliInProcess(['verify', '--signatures-only', '--json', '--against', `${repo}@${digest}`, '--trusted-root', root, ...(ignoreSct ? ['--insecure-ignore-sct'] : []), ...args]);
    if (result.status === 0) {
      const report = JSON.parse(result.stdout) as { key?: string; identity?: { subject: string; issuer: string }; manifests: { signature: { reason: string }; attestations: unknown }[] };
      assert.equal(report.key, undefined);
      assert.equal(report.identity?.issuer, ISSUER);
      assert.equal(report.manifests[0]!.attestations, null, 'attestations are not checked with an identity');
      return { ok: true, reason: report.manifests[0]!.signature.reason };
    }
    assert.equal(result.status, 1, result.stderr);
    const error = jsonError(result.stdout, 'verify --certificate-identity');
    assert.equal(error.code, 'signature-invalid');
    return { ok: false, reason: error.message };
  };

  const cases: { name: string; digest: string; args: string[]; ignoreSct?: boolean; bundle?: boolean; ok: boolean; cosign?: RegExp; addonix?: RegExp }[] = [
    { name: 'a Sigstore bundle (OCI referrer) of the right identity', digest: bundled, args: identity, bundle: true, ok: true, addonix: /Sigstore bundle \(an OCI referrer\) of https:\/\/github\.com\/home-assistant\/docker-base\// },
    { name: 'a Sigstore bundle of another identity', digest: bundled, args: ['--certificate-identity', WORKFLOW.replace('master', 'dev'), '--certificate-oidc-issuer', ISSUER], bundle: true, ok: false, cosign: /no matching CertificateIdentity found/, addonix: /none of the expected identities matched/ },
    { name: 'a Sigstore bundle of a certificate of another CA', digest: bundledByStranger, args: identity, bundle: true, ok: false, cosign: /leaf certificate verification failed/, addonix: /cert verification failed/ },
    { name: 'the right identity and issuer', digest: good, args: identity, ok: true },
    { name: 'the identity as a regular expression', digest: good, args: ['--certificate-identity-regexp', '^https://github\\.com/home-assistant/docker-base/', '--certificate-oidc-issuer', ISSUER], ok: true },
    {
      name: 'another identity',
      digest: good,
      args: ['--certificate-identity', 'https://github.com/someone/fork/.github/workflows/builder.yml@refs/heads/master', '--certificate-oidc-issuer', ISSUER],
      ok: false,
      cosign: /none of the expected identities matched/,
      addonix: /none of the expected identities matched what was in the certificate, got subjects \[https:\/\/github\.com\/home-assistant\/docker-base\/.* with issuer https:\/\/token\.actions/,
    },
    { name: 'another issuer', digest: good, args: ['--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', 'https://gitlab.com'], ok: false, cosign: /none of the expected identities matched/, addonix: /none of the expected identities matched/ },
    { name: 'a certificate of another CA', digest: stranger, args: identity, ok: false, cosign: /certificate signed by unknown authority/, addonix: /cert verification failed/ },
    { name: 'a changed payload', digest: tampered, args: identity, ok: false, cosign: /matching bundle to payload/, addonix: /matching bundle to payload: the payload's SHA-256 is not the one logged/ },
    { name: 'logged after the certificate expired', digest: late, args: identity, ok: false, cosign: /certificate expired before signatures were entered in log/, addonix: /certificate expired before signatures were entered in log: \S+ is before \S+/ },
    { name: 'a signature made with a key', digest: keySigned, args: identity, ok: false, cosign: /offline verification failed/, addonix: /offline verification failed: the signature has no transparency log bundle/ },
    { name: 'a bundle of a log the root does not know', digest: unknownLog, args: identity, ok: false, cosign: /rekor log public key not found/, addonix: /unable to verify SET/ },
    { name: 'no SCT, without --insecure-ignore-sct', digest: good, args: identity, ignoreSct: false, ok: false, cosign: /SCT/, addonix: /certificate does not include required embedded SCT/ },
  ];
  const verdicts = await Promise.all(cases.map(async (c) => ({ c, cosign: await cosignVerdict(c.digest, c.args, c.ignoreSct ?? true, c.bundle), addonix: await addonixVerdict(c.digest, c.args, c.ignoreSct ?? true) })));
  for (const { c, cosign, addonix } of verdicts) {
    assert.equal(cosign.ok, c.ok, `cosign, ${c.name}: ${cosign.stderr}`);
    assert.equal(addonix.ok, c.ok, `addonix, ${c.name}: ${addonix.reason}`);
    if (c.cosign) assert.match(cosign.stderr, c.cosign, `cosign, ${c.name}`);
    if (c.addonix) assert.match(addonix.reason, c.addonix, `addonix, ${c.name}`);
  }
  assert.match(verdicts.find((v) => v.c.name === 'the right identity and issuer')!.addonix.reason, new RegExp(`certificate of ${WORKFLOW.replace(/[.?/]/g, '\\$&')} \\(issuer ${ISSUER.replace(/[./]/g, '\\$&')}\\)`));

  // pin-base: the same check before a base image is pinned; nothing is written when it refuses.
  const addon = (image: string) =>
    tempTree(t, { 'config.yaml': 'name: Base test\nversion: "1.0.0"\nslug: base_test\ndescription: On a signed base image\narch:\n  - amd64\n', Dockerfile: `ARG BUILD_FROM=${image}\nFROM $BUILD_FROM\n` });
  const [pinned, refused] = await Promise.all([
    runCliInProcess(['pin-base', addon(`${repo}:good`), '--no-hash', '--json', '--trusted-root', root, '--insecure-ignore-sct', ...identity]),
    runCliInProcess(['pin-base', addon(`${repo}:other-ca`), '--no-hash', '--json', '--trusted-root', root, '--insecure-ignore-sct', ...identity]),
  ]);
  assert.equal(pinned.status, 0, pinned.stderr);
  assert.equal((JSON.parse(pinned.stdout) as { images: { amd64: { imageDigest: string } } }).images.amd64.imageDigest, good);
  assert.match(pinned.stderr, new RegExp(`amd64: ${good} is signed by the identity ${WORKFLOW.replace(/[.?/]/g, '\\$&')}`));
  assert.equal(refused.status, 1, refused.stderr);
  assert.match(refused.stdout + refused.stderr, /amd64: base image .*other-ca .*cert verification failed/);
});

/** Writes a signature manifest of one simple-signing layer under the digest's .sig tag. */
async function putSignature(registry: Registry, repository: string, digest: string, payload: Buffer, annotations: Record<string, string>): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: '', created: '0001-01-01T00:00:00Z', history: [{ created: '0001-01-01T00:00:00Z' }], os: '', rootfs: { type: 'layers', diff_ids: [sha(payload)] }, config: {} }));
  for (const blob of [payload, config]) {
    const started = await fetch(`${registry.url}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = new URL(started.headers.get('location')!, registry.url);
    location.searchParams.set('digest', sha(blob));
    assert.equal((await fetch(location, { method: 'PUT', body: blob, headers: { 'content-type': 'application/octet-stream' } })).status, 201);
  }
  const manifest = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', size: config.length, digest: sha(config) },
    layers: [{ mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json', size: payload.length, digest: sha(payload), annotations }],
  };
  const response = await fetch(`${registry.url}/v2/${repository}/manifests/sha256-${digest.slice(7)}.sig`, { method: 'PUT', body: JSON.stringify(manifest), headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
  assert.equal(response.status, 201, await response.text());
}

test('keyless options: a half-given identity, a key beside an identity, a trusted root that is not one: usage errors that say what to give', async (t) => {
  const dir = tempTree(t, { 'not-json.json': 'nope', 'other.json': '{"mediaType":"application/json"}', 'empty.json': '{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1","tlogs":[],"certificateAuthorities":[]}' });
  const against = ['verify', '--signatures-only', '--against', '127.0.0.1:1/x/y:1'];
  const identity = ['--certificate-identity', WORKFLOW, '--certificate-oidc-issuer', ISSUER];
  const file = (name: string) => path.join(dir, name);
  const results = await Promise.all([
    runCliInProcess([...against, '--certificate-identity', WORKFLOW, '--trusted-root', file('empty.json')]),
    runCliInProcess([...against, '--certificate-oidc-issuer', ISSUER, '--trusted-root', file('empty.json')]),
    runCliInProcess([...against, ...identity]),
    runCliInProcess([...against, ...identity, '--trusted-root', file('empty.json'), '--key', file('cosign.pub')]),
    runCliInProcess([...against, ...identity, '--trusted-root', file('not-json.json')]),
    runCliInProcess([...against, ...identity, '--trusted-root', file('other.json')]),
    runCliInProcess([...against, ...identity, '--trusted-root', file('empty.json')]),
    runCliInProcess([...against, ...identity, '--trusted-root', file('missing.json')]),
    runCliInProcess([...against, '--certificate-identity-regexp', '(', '--certificate-oidc-issuer', ISSUER, '--trusted-root', file('empty.json')]),
  ]);
  const expected: [number, RegExp][] = [
    [2, /needs the OIDC issuer of the identity: --certificate-oidc-issuer/],
    [2, /needs the identity that signed: --certificate-identity/],
    [2, /needs --trusted-root trusted_root\.json/],
    [2, /--key checks signatures made with a key; --certificate-identity and its kin check keyless ones/],
    [1, /not-json\.json: not JSON .*\[trusted-root\]/],
    [1, /other\.json: not a sigstore trusted root: its mediaType is "application\/json"/],
    [1, /empty\.json: it names no certificate authority/],
    [1, /missing\.json: no such trusted root file/],
    [2, /--certificate-identity-regexp \(: not a regular expression/],
  ];
  results.forEach((result, i) => {
    assert.equal(result.status, expected[i]![0], `case ${i}: ${result.stderr}`);
    assert.match(result.stderr, expected[i]![1], `case ${i}`);
    assert.equal(result.stderr.split('\n').filter((l) => /^\s+at /.test(l)).length, 0, `case ${i}: no stack trace`);
  });
});
