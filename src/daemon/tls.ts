// SPDX-License-Identifier: LGPL-2.1-or-later
// The HTTPS server's key and self-signed certificate, made on first start.
import { generateKeyPair, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { constants } from 'node:fs';
import { promisify } from 'node:util';
import { PassimError, errnoCode } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';

export interface Credentials {
  /** PEM private key. */
  key: string;
  /** PEM self-signed certificate. */
  cert: string;
}

const generateKeyPairAsync = promisify(generateKeyPair);

const VALIDITY_YEARS = 10;

/** Reads a file, or undefined when it does not exist. */
async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new PassimError('internal', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/**
 * Writes `text` to `path` with `mode` atomically: a fresh temporary file (O_EXCL, so the mode applies from
 * the first byte and nothing else can have opened it), fsync, then rename — a crash leaves no half file.
 */
async function writeAtomically(path: string, text: string, mode: number): Promise<void> {
  const temporary = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  const handle = await open(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode);
  try {
    await handle.writeFile(text);
    await handle.chmod(mode); // the umask may have narrowed or, for the cert, never mattered; be exact
    await handle.sync();
  } catch (err) {
    await handle.close();
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
  await handle.close();
  try {
    await rename(temporary, path);
  } catch (err) {
    await unlink(temporary).catch(() => undefined);
    throw err;
  }
}

/**
 * A self-signed X.509 certificate for `privateKeyPem`, usable by a TLS web server. node-forge is loaded
 * here only: it is needed on the first start alone and would cost every later one several MB of memory.
 */
async function makeCertificate(privateKeyPem: string, publicKeyPem: string): Promise<string> {
  const { default: forge } = await import('node-forge');
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKeyPem);
  // A positive serial: clear the top bit so DER does not read it as negative.
  const serial = randomBytes(16);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  cert.serialNumber = serial.toString('hex');
  const now = new Date();
  cert.validity.notBefore = new Date(now.getTime() - 60 * 60 * 1000); // tolerate small clock skew
  cert.validity.notAfter = new Date(now);
  cert.validity.notAfter.setFullYear(now.getFullYear() + VALIDITY_YEARS);
  const name = [
    { name: 'commonName', value: hostname() || 'Passim' },
    { name: 'organizationName', value: 'Passim' },
  ];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectKeyIdentifier' },
    {
      name: 'subjectAltName',
      altNames: [
        { type: 2, value: 'localhost' },
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(privateKeyPem), forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * Loads the daemon's TLS key and certificate, or makes and saves a new pair when either is missing.
 * The key is RSA 2048 made natively (fast); node-forge only builds and signs the certificate.
 */
export async function loadOrCreateCredentials(keyPath: string, certPath: string, log: Logger): Promise<Credentials> {
  const [existingKey, existingCert] = await Promise.all([readIfExists(keyPath), readIfExists(certPath)]);
  if (existingKey !== undefined && existingCert !== undefined) {
    log.debug(`using TLS key ${keyPath} and certificate ${certPath}`);
    return { key: existingKey, cert: existingCert };
  }

  log.info(`generating TLS key ${keyPath} and self-signed certificate ${certPath}`);
  const { privateKey, publicKey } = await generateKeyPairAsync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const cert = await makeCertificate(privateKey, publicKey);
  try {
    await mkdir(dirname(keyPath), { recursive: true, mode: 0o755 });
    await mkdir(dirname(certPath), { recursive: true, mode: 0o755 });
    // Key first: a crash between the two leaves no certificate, so the next start makes both again.
    await writeAtomically(keyPath, privateKey, 0o600);
    await writeAtomically(certPath, cert, 0o644);
  } catch (err) {
    throw new PassimError('internal', `cannot save TLS credentials: ${(err as Error).message}`, { cause: err });
  }
  return { key: privateKey, cert };
}
