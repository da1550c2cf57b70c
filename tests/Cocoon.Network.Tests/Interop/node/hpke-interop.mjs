// An independent HPKE (RFC 9180) peer for the Cocoon.Engine interop tests.
// Reads one JSON request on stdin, writes one JSON answer on stdout; all byte strings are hex.
//   {"op":"seal","recipientPublicKey","info","messages":[{"aad","pt"}],"exports":[{"context","length"}]}
//     -> {"enc","ciphertexts":[...],"exports":[...]}
//   {"op":"open","ikm","enc","info","messages":[{"aad","ct"}],"exports":[...]}
//     -> {"publicKey","plaintexts":[...],"exports":[...]}   (recipient key = DeriveKeyPair(ikm))
//   {"op":"verify-ed25519","publicKey","message","signature"} -> {"valid": true|false}   (Node's own crypto)
// A failure prints {"error": "..."} and exits with code 2.
import { createPublicKey, verify } from "node:crypto";
import { CipherSuite, HkdfSha256 } from "@hpke/core";
import { DhkemX25519HkdfSha256 } from "@hpke/dhkem-x25519";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

const hex = (buf) => Buffer.from(new Uint8Array(buf)).toString("hex");
const bytes = (h) => {
  const b = Buffer.from(h ?? "", "hex");
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
};

async function readStdin() {
  const parts = [];
  for await (const part of process.stdin) parts.push(part);
  return JSON.parse(Buffer.concat(parts).toString("utf8"));
}

async function exportAll(ctx, exports) {
  const out = [];
  for (const e of exports ?? []) out.push(hex(await ctx.export(bytes(e.context), e.length)));
  return out;
}

async function main() {
  const req = await readStdin();
  const suite = new CipherSuite({
    kem: new DhkemX25519HkdfSha256(),
    kdf: new HkdfSha256(),
    aead: new Chacha20Poly1305(),
  });

  if (req.op === "seal") {
    const recipientPublicKey = await suite.kem.deserializePublicKey(bytes(req.recipientPublicKey));
    const sender = await suite.createSenderContext({ recipientPublicKey, info: bytes(req.info) });
    const ciphertexts = [];
    for (const m of req.messages) ciphertexts.push(hex(await sender.seal(bytes(m.pt), bytes(m.aad))));
    return { enc: hex(sender.enc), ciphertexts, exports: await exportAll(sender, req.exports) };
  }

  if (req.op === "open") {
    const recipientKey = await suite.kem.deriveKeyPair(bytes(req.ikm));
    const publicKey = hex(await suite.kem.serializePublicKey(recipientKey.publicKey));
    const recipient = await suite.createRecipientContext({ recipientKey, enc: bytes(req.enc), info: bytes(req.info) });
    const plaintexts = [];
    for (const m of req.messages) plaintexts.push(hex(await recipient.open(bytes(m.ct), bytes(m.aad))));
    return { publicKey, plaintexts, exports: await exportAll(recipient, req.exports) };
  }

  if (req.op === "verify-ed25519") {
    // SubjectPublicKeyInfo for Ed25519 (RFC 8410) around the raw 32-byte key.
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(req.publicKey, "hex")]);
    const key = createPublicKey({ key: spki, format: "der", type: "spki" });
    return { valid: verify(null, Buffer.from(req.message, "hex"), key, Buffer.from(req.signature, "hex")) };
  }

  throw new Error(`unknown op ${req.op}`);
}

main().then(
  (answer) => process.stdout.write(JSON.stringify(answer)),
  (err) => {
    process.stdout.write(JSON.stringify({ error: `${err?.name ?? "Error"}: ${err?.message ?? err}` }));
    process.exitCode = 2;
  },
);
