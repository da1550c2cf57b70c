// An independent checker of a Cocoon receipt (GET /v1/receipts/{id}), written from the format alone with nothing but
// Node's own crypto (Ed25519, SHA-256): it shares no code with the gateway or ./cocoon verify.
// stdin: {"receipt": <the endpoint's JSON>, "request": base64 canonical request bytes, "answer": "answer text",
//         "root": hex Merkle root read from the chain (optional; checks the inclusion proof against it)}
// stdout: {"ok": bool, "checks": [{"name", "ok", "reason"}]}
import { createHash, createPublicKey, verify } from "node:crypto";

const sha256 = (...parts) => { const h = createHash("sha256"); for (const p of parts) h.update(p); return h.digest(); };
const input = JSON.parse(await new Promise((resolve) => { let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => resolve(s)); }));
const doc = input.receipt;
const checks = [];
const check = (name, ok, reason) => checks.push({ name, ok: !!ok, reason });

// 1. The signature: Ed25519 over "cocoon usage receipt v1\0" || the canonical receipt bytes, under the attested key.
const canonical = Buffer.from(doc.receipt_canonical, "base64");
const receipt = JSON.parse(canonical.toString("utf8"));
const attested = doc.attestation?.document;
const key = attested ? Buffer.from(attested.signingPublicKey, "base64") : null;
let signatureOk = false;
if (key?.length === 32) {
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), key]);
  signatureOk = verify(null, Buffer.concat([Buffer.from("cocoon usage receipt v1\0", "utf8"), canonical]),
    createPublicKey({ key: spki, format: "der", type: "spki" }), Buffer.from(doc.signature, "base64"));
}
check("signature", signatureOk, signatureOk ? "Ed25519 signature verifies under the attested worker key" : "the signature does not verify under the attested document's key");

// 2. The receipt names the attested worker and model, at the attested price and TEE kind.
const sameWorker = attested && receipt.workerId === attested.workerId && receipt.modelSha256.toLowerCase() === attested.modelSha256.toLowerCase()
  && receipt.priceCoefficient === attested.priceCoefficient && receipt.teeKind === attested.teeKind;
check("attested-worker", sameWorker, sameWorker ? `worker ${receipt.workerId}, model ${receipt.modelSha256}, ${receipt.teeKind}` : "the receipt does not match the attestation document");

// 3. The hashes match the caller's own bytes.
const requestOk = input.request !== undefined && sha256(Buffer.from(input.request, "base64")).equals(Buffer.from(receipt.requestSha256, "base64"));
check("request-hash", requestOk, requestOk ? "sha256(saved canonical request) matches" : "the saved request does not hash to the receipt's requestSha256");
const answerOk = input.answer !== undefined && sha256(Buffer.from(input.answer, "utf8")).equals(Buffer.from(receipt.responseSha256, "base64"));
check("response-hash", answerOk, answerOk ? "sha256(saved answer) matches" : "the saved answer does not hash to the receipt's responseSha256");

// 4. The inclusion proof: leaf = sha256(0x00 || canonical || signature), node = sha256(0x01 || left || right).
if (input.root !== undefined) {
  let h = sha256(Buffer.from([0]), canonical, Buffer.from(doc.signature, "base64"));
  for (const step of doc.anchor?.proof ?? []) {
    const sib = Buffer.from(step.hash, "hex");
    h = step.side === "left" ? sha256(Buffer.from([1]), sib, h) : sha256(Buffer.from([1]), h, sib);
  }
  const proofOk = !!doc.anchor && h.equals(Buffer.from(input.root, "hex"));
  check("inclusion", proofOk, proofOk ? "the proof leads to the root read from the chain" : "the proof does not lead to the given root");
}

const ok = checks.every((c) => c.ok);
process.stdout.write(JSON.stringify({ ok, checks }));
