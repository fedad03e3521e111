/**
 * The registry token service's signing key and self-signed certificate, kept as PEM files (by
 * default in the data directory). Made on first use: an RSA-2048 key (0600) and a certificate
 * valid ten years, which the operator gives the registry as `auth.token.rootcertbundle`.
 * Replicas sharing a store must share these files (or be given the same paths).
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  type KeyObject,
  X509Certificate,
} from "node:crypto";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { promisify } from "node:util";
import { createSelfSignedCertificate, toCertificatePem } from "./self-signed-certificate.js";

const generateRsa = promisify(generateKeyPair);

/** The key that signs pull tokens and the certificate that vouches for it. */
export interface SigningMaterial {
  readonly privateKey: KeyObject;
  /** DER of the certificate: what the JWT's `x5c` header carries (base64). */
  readonly certificateDer: Buffer;
  readonly certificatePem: string;
  /** True when this call made the files. */
  readonly created: boolean;
}

/** Certificates made here are valid this long. */
const CERTIFICATE_LIFETIME_MS = 10 * 365 * 24 * 3600 * 1000;
/** …from a little before now, so a registry whose clock runs behind still accepts them. */
const CLOCK_SKEW_MS = 3600 * 1000;

async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** Writes a file only if it does not exist yet; false when another writer was first. */
async function writeNew(path: string, content: string, mode: number): Promise<boolean> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  try {
    await writeFile(path, content, { mode, flag: "wx" });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
}

/**
 * Reads the key and certificate at the given paths, making whichever is missing. A certificate
 * that does not belong to the key is an error (the registry would refuse every token).
 */
export async function loadOrCreateSigningMaterial(input: {
  readonly keyFile: string;
  readonly certFile: string;
  readonly commonName: string;
  readonly now: Date;
}): Promise<SigningMaterial> {
  let created = false;
  let keyPem = await readIfPresent(input.keyFile);
  if (keyPem === undefined) {
    const pair = await generateRsa("rsa", { modulusLength: 2048 });
    const fresh = pair.privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    created = await writeNew(input.keyFile, fresh, 0o600);
    keyPem = created ? fresh : await readFile(input.keyFile, "utf8");
  }
  const privateKey = createPrivateKey(keyPem);
  let certPem = await readIfPresent(input.certFile);
  if (certPem === undefined) {
    const der = createSelfSignedCertificate({
      privateKey,
      publicKey: createPublicKey(privateKey),
      commonName: input.commonName,
      notBefore: new Date(input.now.getTime() - CLOCK_SKEW_MS),
      notAfter: new Date(input.now.getTime() + CERTIFICATE_LIFETIME_MS),
    });
    const fresh = toCertificatePem(der);
    const wrote = await writeNew(input.certFile, fresh, 0o644);
    created ||= wrote;
    certPem = wrote ? fresh : await readFile(input.certFile, "utf8");
  }
  const certificate = new X509Certificate(certPem);
  if (!certificate.checkPrivateKey(privateKey)) {
    throw new Error(
      `the certificate ${input.certFile} does not belong to the key ${input.keyFile}; delete both to have a new pair made`,
    );
  }
  return { privateKey, certificateDer: certificate.raw, certificatePem: certPem, created };
}
