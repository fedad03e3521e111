import assert from "node:assert/strict";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { createSelfSignedCertificate, toCertificatePem } from "./self-signed-certificate.js";

describe("createSelfSignedCertificate", () => {
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });

  it("makes a certificate Node's X.509 parser reads back and verifies with the key", () => {
    const notBefore = new Date("2026-01-01T00:00:00Z");
    const notAfter = new Date("2036-01-01T00:00:00Z");
    const der = createSelfSignedCertificate({
      privateKey,
      publicKey,
      commonName: "gpuaas registry token signer",
      notBefore,
      notAfter,
    });
    const certificate = new X509Certificate(der);
    assert.equal(certificate.subject, "CN=gpuaas registry token signer");
    assert.equal(certificate.issuer, certificate.subject);
    assert.equal(certificate.ca, true);
    assert.ok(certificate.verify(publicKey), "self-signed with the key");
    assert.ok(certificate.checkPrivateKey(privateKey));
    assert.equal(new Date(certificate.validFrom).getTime(), notBefore.getTime());
    assert.equal(new Date(certificate.validTo).getTime(), notAfter.getTime());
    assert.ok(!certificate.serialNumber.startsWith("8"), "a positive serial number");
    // PEM armour round-trips.
    assert.equal(
      new X509Certificate(toCertificatePem(der)).fingerprint256,
      certificate.fingerprint256,
    );
  });

  it("uses GeneralizedTime after 2049", () => {
    const der = createSelfSignedCertificate({
      privateKey,
      publicKey,
      commonName: "far future",
      notBefore: new Date("2049-12-31T00:00:00Z"),
      notAfter: new Date("2051-06-01T12:30:00Z"),
    });
    const certificate = new X509Certificate(der);
    assert.equal(new Date(certificate.validTo).toISOString(), "2051-06-01T12:30:00.000Z");
  });
});
