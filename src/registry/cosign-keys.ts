/**
 * Keys in cosign's formats. A private key is either the encrypted `cosign.key` that `cosign
 * generate-key-pair` writes (PEM `ENCRYPTED SIGSTORE PRIVATE KEY`, or `ENCRYPTED COSIGN PRIVATE KEY`
 * before cosign 2: base64 JSON naming an scrypt KDF with its parameters and salt and a nacl/secretbox
 * nonce, around the PKCS#8 DER of the key), or a plain PEM key (`PRIVATE KEY` PKCS#8, `EC PRIVATE KEY`,
 * or `ENCRYPTED PRIVATE KEY` PKCS#8). The password comes from COSIGN_PASSWORD, as for cosign itself, and
 * never from the command line. A public key is PEM `PUBLIC KEY` (PKIX), as in `cosign.pub`.
 *
 * Only ECDSA P-256 with SHA-256 is taken: what `cosign generate-key-pair` makes and what its default
 * verifier expects of such a key.
 */
import { createPrivateKey, createPublicKey, scrypt, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { UserError } from '../util/errors.js';

export interface SigningKey {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The file it was read from, for messages. */
  file: string;
}

const ENCRYPTED_COSIGN = /-----BEGIN (ENCRYPTED SIGSTORE PRIVATE KEY|ENCRYPTED COSIGN PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;

interface EncryptedKeyDocument {
  kdf?: { name?: string; params?: { N?: number; r?: number; p?: number }; salt?: string };
  cipher?: { name?: string; nonce?: string };
  ciphertext?: string;
}

async function readKeyFile(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError('not-found', `${file}: no such ${what}`, { file });
    throw new UserError('signing-key', `${file}: cannot read the ${what} (${(error as Error).message})`, { file });
  }
}

function scryptAsync(password: string, salt: Buffer, params: { N: number; r: number; p: number }): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes; Node refuses more than 32 MiB unless told (N = 65536, r = 8 is 64 MiB).
  const maxmem = 128 * params.N * params.r + 16 * 1024 * 1024;
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N: params.N, r: params.r, p: params.p, maxmem }, (error, key) => (error ? reject(error) : resolve(key))),
  );
}

/** The PKCS#8 DER inside cosign's encrypted key document. */
async function decryptCosignKey(body: string, file: string, password: string): Promise<Buffer> {
  const bad = (why: string) => new UserError('signing-key', `${file}: not a cosign key file cosign could read (${why})`, { file });
  let document: EncryptedKeyDocument;
  try {
    document = JSON.parse(Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')) as EncryptedKeyDocument;
  } catch {
    throw bad('its body is not base64 JSON');
  }
  const { kdf, cipher, ciphertext } = document;
  if (kdf?.name !== 'scrypt' || !kdf.salt || !kdf.params) throw bad(`key derivation ${JSON.stringify(kdf?.name ?? null)}, not scrypt`);
  if (cipher?.name !== 'nacl/secretbox' || !cipher.nonce) throw bad(`cipher ${JSON.stringify(cipher?.name ?? null)}, not nacl/secretbox`);
  if (!ciphertext) throw bad('no ciphertext');
  const { N, r, p } = kdf.params;
  // cosign writes N = 32768 or 65536, r = 8, p = 1; far larger values would only burn memory here.
  if (!Number.isInteger(N) || !Number.isInteger(r) || !Number.isInteger(p) || N! < 2 || N! > 1 << 20 || r! < 1 || r! > 32 || p! < 1 || p! > 16) {
    throw bad(`scrypt parameters N=${N} r=${r} p=${p}`);
  }
  const key = await scryptAsync(password, Buffer.from(kdf.salt, 'base64'), { N: N!, r: r!, p: p! });
  // Loaded here: only a push that signs with an encrypted key needs it (a push's start-up is kept short).
  const { secretbox } = await import('@noble/ciphers/salsa.js');
  const nonce = Buffer.from(cipher.nonce, 'base64');
  if (nonce.length !== 24) throw bad(`a nonce of ${nonce.length} bytes, not 24`);
  try {
    return Buffer.from(secretbox(key, nonce).open(Buffer.from(ciphertext, 'base64')));
  } catch {
    throw new UserError('signing-key', `${file}: the password in COSIGN_PASSWORD does not decrypt this key`, {
      file,
      hint: 'set COSIGN_PASSWORD to the password given to cosign generate-key-pair (empty for a key made without one)',
    });
  }
}

function checkEcP256(key: KeyObject, file: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== 'ec' || curve !== 'prime256v1') {
    const kind = key.asymmetricKeyType === 'ec' ? `EC ${curve}` : (key.asymmetricKeyType ?? 'unknown');
    throw new UserError('signing-key', `${file}: a ${kind} key; addonix signs and verifies with ECDSA P-256 keys (what cosign generate-key-pair makes)`, { file });
  }
}

/** Reads a private key for signing (see the module comment); `env` gives COSIGN_PASSWORD. */
export async function readSigningKey(file: string, env: NodeJS.ProcessEnv = process.env): Promise<SigningKey> {
  const text = await readKeyFile(file, 'private key');
  const password = env['COSIGN_PASSWORD'];
  let privateKey: KeyObject;
  const cosign = ENCRYPTED_COSIGN.exec(text);
  if (cosign) {
    // cosign itself asks on the terminal when the variable is unset; addonix runs in CI and never prompts.
    if (password === undefined) throw new UserError('signing-key', `${file} is encrypted: set COSIGN_PASSWORD to its password (empty for a key made without one)`, { file });
    const der = await decryptCosignKey(cosign[2]!, file, password);
    try {
      privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    } catch {
      throw new UserError('signing-key', `${file}: decrypted, but what it holds is not a PKCS#8 private key`, { file });
    }
  } else if (/-----BEGIN (EC |ENCRYPTED )?PRIVATE KEY-----/.test(text)) {
    const encrypted = text.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----');
    if (encrypted && password === undefined) throw new UserError('signing-key', `${file} is encrypted: set COSIGN_PASSWORD to its password`, { file });
    try {
      privateKey = createPrivateKey(encrypted ? { key: text, format: 'pem', passphrase: password! } : { key: text, format: 'pem' });
    } catch (error) {
      throw new UserError('signing-key', `${file}: ${encrypted ? 'the password in COSIGN_PASSWORD does not decrypt this key, or it' : 'it'} is not a PEM private key Node.js reads (${(error as Error).message})`, { file });
    }
  } else if (text.includes('-----BEGIN PUBLIC KEY-----')) {
    throw new UserError('signing-key', `${file} is a public key: signing needs the private key (cosign.key, not cosign.pub)`, { file });
  } else {
    throw new UserError('signing-key', `${file}: not a private key in a form addonix reads (cosign.key of cosign generate-key-pair, or PEM PKCS#8 EC P-256)`, { file });
  }
  checkEcP256(privateKey, file);
  return { privateKey, publicKey: createPublicKey(privateKey), file };
}

/** Reads a PEM public key (`cosign.pub`) for verifying. */
export async function readPublicKey(file: string): Promise<KeyObject> {
  const text = await readKeyFile(file, 'public key');
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) throw new UserError('signing-key', `${file} is a private key: verifying takes the public key (cosign.pub)`, { file });
  let key: KeyObject;
  try {
    key = createPublicKey({ key: text, format: 'pem' });
  } catch {
    throw new UserError('signing-key', `${file}: not a PEM public key (-----BEGIN PUBLIC KEY-----, as in cosign.pub)`, { file });
  }
  checkEcP256(key, file);
  return key;
}
