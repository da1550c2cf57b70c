// Who seals a chat prompt to the worker. Preferred: this browser (the gateway relays ciphertext it cannot open).
// The page reserves a worker (POST api/sealed/reserve), verifies the worker's signed attestation document here
// against the policy the network publishes (worker Ed25519 signature, simulated platform key and signature,
// measurement, model hash, expiry), seals the whole GenerationRequest with HPKE (RFC 9180, X25519 + HKDF-SHA256 +
// ChaCha20-Poly1305) to the HPKE key inside that verified document, and opens the sealed answer stream with a key
// exported from its own HPKE context. When any step is impossible here (no WebCrypto Ed25519/X25519, a document that
// does not verify), the page says why and falls back to the gateway-sealed path with a badge saying so.
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";
import type { WorkerView } from "./api";

export type SealedBy = "gateway" | "browser";

export interface SealingPlan {
  by: SealedBy;
  /** What the user is told under the badge. */
  detail: string;
}

export function sealingPlan(_workers: WorkerView[]): SealingPlan {
  if (!globalThis.crypto?.subtle) {
    return { by: "gateway", detail: "This browser has no WebCrypto, so the gateway seals your message to the worker's attested key (it does not store or log the text)." };
  }
  return { by: "browser", detail: "Your message is sealed in this browser to a worker whose attestation this page verifies; the gateway only relays ciphertext." };
}

export interface Reservation {
  request_id: string; attempt: number; reply_to: string; worker_id: string; model: string; model_sha256: string;
  hpke_public_key: string; max_tokens: number;
  attestation?: { document: string; worker_signature: string; evidence_kind: string; evidence_payload: string; platform_public_key?: string };
  policy: { allowed_measurements: string[]; accept_any_simulated_measurement: boolean; trusted_simulated_platform_keys: string[]; served_model_hashes: string[]; accept_any_model: boolean };
}

export interface VerifiedWorker { workerId: string; teeKind: string; measurement: string; modelSha256: string; hpkePublicKey: Uint8Array; signingPublicKey: Uint8Array }

const enc = new TextEncoder();
const b64 = (s: string) => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const toB64 = (b: Uint8Array) => btoa(String.fromCharCode(...b));
const concat = (...parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
const hex = (b: Uint8Array) => Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array(s.match(/../g)!.map(x => parseInt(x, 16)));
const buf = (b: Uint8Array) => b.slice().buffer as ArrayBuffer;

async function ed25519(key: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const k = await crypto.subtle.importKey("raw", buf(key), { name: "Ed25519" }, false, ["verify"]);
  return crypto.subtle.verify({ name: "Ed25519" }, k, buf(signature), buf(message));
}

/** Verifies the reserved worker's attestation against the published policy; throws with the reason it does not. */
export async function verifyWorker(r: Reservation): Promise<VerifiedWorker> {
  const a = r.attestation;
  if (!a) throw new Error("the gateway sent no attestation for the worker");
  const docBytes = b64(a.document);
  const doc = JSON.parse(new TextDecoder().decode(docBytes));
  const signing = b64(doc.signingPublicKey);
  if (!await ed25519(signing, concat(enc.encode("cocoon attestation document v1\0"), docBytes), b64(a.worker_signature))) throw new Error("the worker's signature does not cover its document");
  if (doc.teeKind !== "simulated" || a.evidence_kind !== "simulated") throw new Error(`this page cannot check ${doc.teeKind} evidence yet`);
  const platform = (a.platform_public_key ?? "").toLowerCase();
  if (!r.policy.trusted_simulated_platform_keys.includes(platform)) throw new Error("the worker's platform key is not in the network's policy");
  const docHash = new Uint8Array(await crypto.subtle.digest("SHA-256", buf(docBytes)));
  if (!await ed25519(unhex(platform), concat(enc.encode("cocoon simulated tee v1\0"), docHash), b64(a.evidence_payload))) throw new Error("the platform signature does not cover the document");
  const measurement = String(doc.measurement).toLowerCase();
  if (!r.policy.allowed_measurements.includes(measurement) && !r.policy.accept_any_simulated_measurement) throw new Error("the worker's measurement is not allowed by the policy");
  const model = String(doc.modelSha256).toLowerCase();
  if (!(r.policy.served_model_hashes.includes(model) || r.policy.accept_any_model) || model !== r.model_sha256.toLowerCase()) throw new Error("the worker serves another model");
  if (doc.workerId !== r.worker_id || doc.expiresAt <= Date.now()) throw new Error("the document is another worker's or expired");
  return { workerId: doc.workerId, teeKind: doc.teeKind, measurement, modelSha256: model, hpkePublicKey: b64(doc.hpkePublicKey), signingPublicKey: signing };
}

export interface SealedJob { body: string; open(chunk: { sequence: number; final: boolean; ciphertext: string }): Promise<string> }

/** Seals the GenerationRequest to the verified worker, bound to the reservation; returns the body to send and the stream opener. */
export async function sealForWorker(r: Reservation, w: VerifiedWorker, messages: { role: string; content: string }[]): Promise<SealedJob> {
  const aead = new Chacha20Poly1305();
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead });
  const recipientPublicKey = await suite.kem.deserializePublicKey(buf(w.hpkePublicKey));
  const info = enc.encode(`cocoon/job/v1\n${r.request_id}\n${r.attempt}\n${w.workerId}\n${w.modelSha256}`);
  const sender = await suite.createSenderContext({ recipientPublicKey, info: buf(info) });
  const generation = { messages, sampling: { maxTokens: r.max_tokens, temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05, repetitionPenalty: 1, seed: 42, stop: [] } };
  const ciphertext = new Uint8Array(await sender.seal(buf(enc.encode(JSON.stringify(generation))), buf(enc.encode(r.reply_to))));
  const streamKey = aead.createEncryptionContext(await sender.export(buf(enc.encode("cocoon stream v1")), 32));
  const id = enc.encode(r.request_id);
  const decoder = new TextDecoder();
  return {
    body: JSON.stringify({ request_id: r.request_id, enc: toB64(new Uint8Array(sender.enc)), ciphertext: toB64(ciphertext) }),
    async open(chunk) {
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setBigUint64(4, BigInt(chunk.sequence));
      const aad = new Uint8Array(15 + 2 + id.length + 9);
      aad.set(enc.encode("cocoon-chunk-v1"));
      const view = new DataView(aad.buffer);
      view.setUint16(15, id.length);
      aad.set(id, 17);
      view.setBigUint64(17 + id.length, BigInt(chunk.sequence));
      aad[25 + id.length] = chunk.final ? 1 : 0;
      const plain = await (await streamKey).open(buf(nonce), buf(b64(chunk.ciphertext)), buf(aad));
      return decoder.decode(new Uint8Array(plain), { stream: !chunk.final });
    },
  };
}

export function describe(w: VerifiedWorker): string {
  return `Sealed in this browser to a verified worker (${w.teeKind}, measurement ${w.measurement.slice(0, 12)}…, model ${w.modelSha256.slice(0, 12)}…)`;
}
export { hex };
