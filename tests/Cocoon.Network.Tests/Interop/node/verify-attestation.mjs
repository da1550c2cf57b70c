// An independent checker of GET /v1/attestation's answer, written from the format alone with nothing but Node's own
// crypto (Ed25519): it shares no code with the gateway.
// stdin: {"attestation": <the endpoint's JSON>, "nonce": "the 64 hex digits the client sent", "worker": index (default 0)}
// stdout: {"ok": bool, "checks": [{"name", "ok", "reason"}]}
import { createPublicKey, verify } from "node:crypto";

const input = JSON.parse(await new Promise((resolve) => { let s = ""; process.stdin.on("data", (d) => (s += d)); process.stdin.on("end", () => resolve(s)); }));
const body = input.attestation;
const entry = body.workers?.[input.worker ?? 0];
const checks = [];
const check = (name, ok, reason) => checks.push({ name, ok: !!ok, reason });
const b64 = (s) => Buffer.from(s ?? "", "base64");

const document = entry?.attestation?.document;
const canonical = b64(entry?.statement_canonical);
let statement = null;
try { statement = JSON.parse(canonical.toString("utf8")); } catch { statement = null; }

// 1. Ed25519 over "cocoon attestation statement v1\0" || the canonical statement bytes, under the attested signing key.
const key = document ? b64(document.signingPublicKey) : Buffer.alloc(0);
let signatureOk = false;
if (key.length === 32 && statement) {
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), key]);
  signatureOk = verify(null, Buffer.concat([Buffer.from("cocoon attestation statement v1\0", "utf8"), canonical]),
    createPublicKey({ key: spki, format: "der", type: "spki" }), b64(entry.signature));
}
check("signature", signatureOk, signatureOk ? "Ed25519 signature verifies under the attested worker key" : "the statement is not signed by the attested document's key");

// 2. Fresh: the statement answers this client's nonce.
const nonceOk = !!statement && b64(statement.nonce).equals(Buffer.from(input.nonce, "hex"));
check("nonce", nonceOk, nonceOk ? "the statement carries the client's nonce" : "the statement answers another nonce");

// 3. It speaks for the attested worker, model and HPKE key, and the model is the one asked about.
const sameWorker = !!statement && !!document && statement.workerId === document.workerId
  && statement.modelSha256.toLowerCase() === document.modelSha256.toLowerCase()
  && b64(statement.hpkePublicKey).equals(b64(document.hpkePublicKey))
  && document.modelSha256.toLowerCase() === body.model_sha256;
check("attested-worker", sameWorker, sameWorker ? `worker ${document.workerId} serves ${body.model_sha256}` : "the statement, the document and the model hash disagree");

// 4. The platform that attested the document is one the published policy trusts (simulated platforms: by key).
const platform = entry?.attestation?.evidence?.platformPublicKey;
const trusted = (body.policy?.trusted_simulated_platform_keys ?? []).map((k) => k.toLowerCase());
const platformOk = document?.teeKind !== "simulated" || (!!platform && trusted.includes(b64(platform).toString("hex")));
check("trusted-platform", platformOk, platformOk ? "the document's platform key is in the published policy" : "the document's platform is not trusted by the policy");

const ok = checks.every((c) => c.ok);
process.stdout.write(JSON.stringify({ ok, checks }));
