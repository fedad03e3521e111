/**
 * A minimal X.509 v3 encoder for one thing: the self-signed certificate the registry token
 * service puts in its JWTs' `x5c` header and the registry trusts as `rootcertbundle`. Node's
 * `crypto` makes the key and the signature but no certificates; a library for this (e.g.
 * `@peculiar/x509`) brings a dozen packages for ~100 lines of DER, and shelling out to `openssl`
 * would make `gpuaas up` need it installed. Node's `X509Certificate` checks the output in tests.
 */
import { type KeyObject, randomBytes, sign } from "node:crypto";

function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let rest = length; rest > 0; rest = Math.floor(rest / 256)) bytes.unshift(rest % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, content: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag]), encodeLength(content.length), content]);
}

const sequence = (...parts: Uint8Array[]): Buffer => tlv(0x30, Buffer.concat(parts));
const set = (...parts: Uint8Array[]): Buffer => tlv(0x31, Buffer.concat(parts));
const explicit = (tag: number, content: Uint8Array): Buffer => tlv(0xa0 + tag, content);
const octetString = (content: Uint8Array): Buffer => tlv(0x04, content);
const bitString = (content: Uint8Array, unusedBits = 0): Buffer =>
  tlv(0x03, Buffer.concat([Buffer.from([unusedBits]), content]));
const DER_NULL = Buffer.from([0x05, 0x00]);
const DER_TRUE = Buffer.from([0x01, 0x01, 0xff]);

/** A non-negative INTEGER from big-endian bytes (a 0x00 is prefixed when the top bit is set). */
function integer(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1;
  const trimmed = bytes.subarray(start);
  const content =
    (trimmed[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : Buffer.from(trimmed);
  return tlv(0x02, content);
}

function objectIdentifier(dotted: string): Buffer {
  const [first = 0, second = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [first * 40 + second];
  for (const arc of rest) {
    const chunk: number[] = [];
    let value = arc;
    do {
      chunk.unshift(value % 128);
      value = Math.floor(value / 128);
    } while (value > 0);
    for (let index = 0; index < chunk.length - 1; index += 1)
      chunk[index] = (chunk[index] ?? 0) | 0x80;
    bytes.push(...chunk);
  }
  return tlv(0x06, Buffer.from(bytes));
}

/** UTCTime through 2049, GeneralizedTime after (RFC 5280 §4.1.2.5). */
function time(date: Date): Buffer {
  const iso = date.toISOString();
  const digits = `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050
    ? tlv(0x17, Buffer.from(digits.slice(2), "ascii"))
    : tlv(0x18, Buffer.from(digits, "ascii"));
}

function commonName(name: string): Buffer {
  return sequence(set(sequence(objectIdentifier("2.5.4.3"), tlv(0x0c, Buffer.from(name, "utf8")))));
}

const SHA256_WITH_RSA = sequence(objectIdentifier("1.2.840.113549.1.1.11"), DER_NULL);

/** What {@link createSelfSignedCertificate} needs. */
export interface CertificateInput {
  /** An RSA private key. */
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** Subject and issuer common name. */
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/**
 * A self-signed X.509 v3 CA certificate for an RSA key, signed with SHA-256, as DER. It is a CA
 * (basicConstraints) so verifiers that insist on one accept it as a root.
 */
export function createSelfSignedCertificate(input: CertificateInput): Buffer {
  const serial = randomBytes(16);
  serial[0] = ((serial[0] ?? 0) & 0x7f) | 0x01;
  const name = commonName(input.commonName);
  const extensions = explicit(
    3,
    sequence(
      // basicConstraints, critical: cA TRUE.
      sequence(objectIdentifier("2.5.29.19"), DER_TRUE, octetString(sequence(DER_TRUE))),
      // keyUsage, critical: digitalSignature and keyCertSign (bits 0 and 5; 2 unused bits).
      sequence(
        objectIdentifier("2.5.29.15"),
        DER_TRUE,
        octetString(bitString(Buffer.from([0x84]), 2)),
      ),
    ),
  );
  const tbs = sequence(
    explicit(0, integer(Buffer.from([2]))),
    integer(serial),
    SHA256_WITH_RSA,
    name,
    sequence(time(input.notBefore), time(input.notAfter)),
    name,
    input.publicKey.export({ type: "spki", format: "der" }),
    extensions,
  );
  const signature = sign("sha256", tbs, input.privateKey);
  return sequence(tbs, SHA256_WITH_RSA, bitString(signature));
}

/** PEM armour for a DER certificate. */
export function toCertificatePem(der: Uint8Array): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join("\n")}\n-----END CERTIFICATE-----\n`;
}
