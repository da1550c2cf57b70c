// Who seals a chat prompt to the worker. Preferred: this browser (the gateway relays ciphertext it cannot open).
// The page reserves a worker (POST api/sealed/reserve), verifies the worker's signed attestation document here
// against the policy the network publishes (worker Ed25519 signature, simulated platform key and signature,
// measurement, model hash, expiry), seals the whole GenerationRequest with HPKE (RFC 9180, X25519 + HKDF-SHA256 +
// ChaCha20-Poly1305) to the HPKE key inside that verified document, and opens the sealed answer stream with a key
// exported from its own HPKE context.
//
// Two kinds of "not here": a browser that lacks what sealing needs (no WebCrypto Ed25519, a TEE kind this page cannot
// check yet) is a gap in this page, so the gateway seals instead and the badge says so (Unverifiable). A document that
// does not verify is evidence against the worker or whoever handed it over, so nothing is sent at all (Refused).
//
// Wire v2: the HPKE info is length-prefixed and binds the reservation's deadline; the AAD binds the reply stream. The
// control key exported from this page's HPKE context stays here: the gateway gets only the MAC of this attempt's
// cancel (so it can stop the worker when the page stops or goes away), and the page checks a refusal's MAC itself.
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
  hpke_public_key: string; max_tokens: number; deadline: string; deadline_ticks: string; tier: string;
  attestation?: { document: string; worker_signature: string; evidence_kind: string; evidence_payload: string; platform_public_key?: string };
  policy: { allowed_measurements: string[]; accept_any_simulated_measurement: boolean; trusted_simulated_platform_keys: string[]; served_model_hashes: string[]; accept_any_model: boolean };
  /** The worker's fresh statement over this page's nonce (present when the reservation asked with a nonce). */
  statement?: { canonical: string; signature: string };
}

/** A fresh challenge for one reservation: 32 random bytes, as the hex the gateway relays to the worker. */
export function freshNonce(): string {
  return hex(crypto.getRandomValues(new Uint8Array(32)));
}

export interface VerifiedWorker { workerId: string; teeKind: string; tier: string; measurement: string; modelSha256: string; hpkePublicKey: Uint8Array; signingPublicKey: Uint8Array }

/** This page cannot check the worker (a missing browser feature, a TEE kind it does not know yet): the gateway may seal instead. */
export class Unverifiable extends Error {}

/** The worker's attestation does not verify: nothing may be sealed to it, by this page or by the gateway. */
export class Refused extends Error {}

const enc = new TextEncoder();
const b64 = (s: string) => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const toB64 = (b: Uint8Array) => { let s = ""; for (const x of b) s += String.fromCharCode(x); return btoa(s); };
const concat = (...parts: Uint8Array[]) => { const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let o = 0; for (const p of parts) { out.set(p, o); o += p.length; } return out; };
const hex = (b: Uint8Array) => Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map(x => parseInt(x, 16)));
const buf = (b: Uint8Array) => b.slice().buffer as ArrayBuffer;

// The length-prefixed encoding of the gateway's and worker's JobBinding / JobControlKey: lp(x) = u16 BE length || bytes.
function lp(value: string | Uint8Array): Uint8Array {
  const bytes = typeof value === "string" ? enc.encode(value) : value;
  const out = new Uint8Array(2 + bytes.length);
  new DataView(out.buffer).setUint16(0, bytes.length);
  out.set(bytes, 2);
  return out;
}
const i32 = (n: number) => { const b = new Uint8Array(4); new DataView(b.buffer).setInt32(0, n); return b; };
const i64 = (n: bigint) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigInt64(0, n); return b; };

/** HPKE info (wire v2): lp("cocoon/job/v2") || lp(request id) || i32 attempt || lp(worker id) || lp(model hash) || i64 deadline (UTC ticks). */
export function jobInfo(requestId: string, attempt: number, workerId: string, modelSha256: string, deadlineTicks: bigint): Uint8Array {
  return concat(lp("cocoon/job/v2"), lp(requestId), i32(attempt), lp(workerId), lp(modelSha256), i64(deadlineTicks));
}

async function hmac(key: Uint8Array, message: Uint8Array): Promise<Uint8Array> {
  const k = await crypto.subtle.importKey("raw", buf(key), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return new Uint8Array(await crypto.subtle.sign("HMAC", k, buf(message)));
}

async function ed25519(key: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  let k: CryptoKey;
  try {
    k = await crypto.subtle.importKey("raw", buf(key), { name: "Ed25519" }, false, ["verify"]);
  } catch (e: any) {
    throw new Unverifiable(`this browser cannot check Ed25519 signatures (${e?.message ?? e})`);
  }
  return crypto.subtle.verify({ name: "Ed25519" }, k, buf(signature), buf(message));
}

/**
 * Verifies the reserved worker's attestation against the published policy, and its statement over this page's nonce
 * (the worker is live now, holding the attested key: a document alone could be replayed after the worker is gone);
 * throws Refused or Unverifiable with the reason.
 */
export async function verifyWorker(r: Reservation, nonce: string): Promise<VerifiedWorker> {
  const a = r.attestation;
  if (!a) throw new Refused("the gateway sent no attestation for the worker");
  const docBytes = b64(a.document);
  let doc: any;
  try { doc = JSON.parse(new TextDecoder().decode(docBytes)); } catch { throw new Refused("the attestation document is not JSON"); }
  const signing = b64(doc.signingPublicKey ?? "");
  if (!await ed25519(signing, concat(enc.encode("cocoon attestation document v1\0"), docBytes), b64(a.worker_signature))) throw new Refused("the worker's signature does not cover its document");
  if (doc.teeKind !== "simulated" || a.evidence_kind !== "simulated") throw new Unverifiable(`this page cannot check ${doc.teeKind} evidence yet`);
  const platform = (a.platform_public_key ?? "").toLowerCase();
  if (!r.policy.trusted_simulated_platform_keys.includes(platform)) throw new Refused("the worker's platform key is not in the network's policy");
  const docHash = new Uint8Array(await crypto.subtle.digest("SHA-256", buf(docBytes)));
  if (!await ed25519(unhex(platform), concat(enc.encode("cocoon simulated tee v1\0"), docHash), b64(a.evidence_payload))) throw new Refused("the platform's signature does not cover the document");
  const measurement = String(doc.measurement).toLowerCase();
  if (!r.policy.allowed_measurements.includes(measurement) && !r.policy.accept_any_simulated_measurement) throw new Refused(`measurement ${measurement.slice(0, 12)}… is not allowed by the policy`);
  const model = String(doc.modelSha256).toLowerCase();
  if (!(r.policy.served_model_hashes.includes(model) || r.policy.accept_any_model) || model !== r.model_sha256.toLowerCase()) throw new Refused("the worker serves another model than the one reserved");
  if (doc.workerId !== r.worker_id) throw new Refused("the document is another worker's");
  if (doc.expiresAt <= Date.now()) throw new Refused("the worker's attestation has expired");
  // The key the gateway says it routes to must be the one inside the verified document.
  if (hex(b64(doc.hpkePublicKey)) !== r.hpke_public_key.toLowerCase()) throw new Refused("the reserved key is not the one in the worker's document");
  await verifyStatement(r, doc, signing, nonce);
  return { workerId: doc.workerId, teeKind: doc.teeKind, tier: r.tier, measurement, modelSha256: doc.modelSha256, hpkePublicKey: b64(doc.hpkePublicKey), signingPublicKey: signing };
}

/** The worker's statement: signed by the attested key, over this page's nonce, naming the document's worker, model and HPKE key. */
async function verifyStatement(r: Reservation, doc: any, signing: Uint8Array, nonce: string): Promise<void> {
  const st = r.statement;
  if (!st) throw new Refused("the worker gave no statement over this page's fresh nonce");
  const canonical = b64(st.canonical);
  if (!await ed25519(signing, concat(enc.encode("cocoon attestation statement v1\0"), canonical), b64(st.signature))) throw new Refused("the statement over this page's nonce is not signed by the attested key");
  let s: any;
  try { s = JSON.parse(new TextDecoder().decode(canonical)); } catch { throw new Refused("the worker's statement is not JSON"); }
  if (hex(b64(s.nonce ?? "")) !== nonce) throw new Refused("the worker's statement answers another nonce (a replay)");
  if (s.workerId !== doc.workerId || String(s.modelSha256).toLowerCase() !== String(doc.modelSha256).toLowerCase()) throw new Refused("the statement names another worker or model");
  if (hex(b64(s.hpkePublicKey ?? "")) !== hex(b64(doc.hpkePublicKey))) throw new Refused("the statement names another HPKE key than the document");
}

export interface SealedError { message: string; code: string; worker_id: string; retryable: boolean; worker_mac?: string }

/** One line of the in-page receipt check: what was checked and whether it held. */
export interface ReceiptCheckLine { name: string; ok: boolean }

export interface SealedJob {
  body: string;
  /**
   * Checks the worker's signed receipt against what only this page holds: the signature under the attested key, the
   * request and worker it names, the hash of the ciphertexts this page opened, of the request it sealed and of the
   * answer it read. The gateway saw neither text, so it could not have checked the last two.
   */
  checkReceipt(receiptJson: string): Promise<ReceiptCheckLine[]>;
  open(chunk: { sequence: number; final: boolean; ciphertext: string }): Promise<string>;
  /** Whether a refusal carries the worker's MAC under this job's control key (the gateway cannot tell). */
  authentic(error: SealedError): Promise<boolean>;
}

/** Seals the GenerationRequest to the verified worker, bound to the reservation; returns the body to send and the stream opener. */
export async function sealForWorker(r: Reservation, w: VerifiedWorker, messages: { role: string; content: string }[]): Promise<SealedJob> {
  const aead = new Chacha20Poly1305();
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead });
  const recipientPublicKey = await suite.kem.deserializePublicKey(buf(w.hpkePublicKey));
  const info = jobInfo(r.request_id, r.attempt, w.workerId, w.modelSha256, BigInt(r.deadline_ticks));
  const sender = await suite.createSenderContext({ recipientPublicKey, info: buf(info) });
  const generation = { messages, sampling: { maxTokens: r.max_tokens, temperature: 0.8, topP: 0.95, topK: 40, minP: 0.05, repetitionPenalty: 1, seed: 42, stop: [] } };
  const aad = concat(lp("cocoon/job-aad/v2"), lp(r.reply_to));
  const requestBytes = enc.encode(JSON.stringify(generation));
  const ciphertext = new Uint8Array(await sender.seal(buf(requestBytes), buf(aad)));
  const ciphertexts: Uint8Array[] = [];
  const plaintexts: Uint8Array[] = [];
  const streamKey = aead.createEncryptionContext(await sender.export(buf(enc.encode("cocoon stream v1")), 32));
  const controlKey = new Uint8Array(await sender.export(buf(enc.encode("cocoon control v1")), 32));
  const cancelMac = await hmac(controlKey, concat(lp("cocoon/control/cancel/v1"), lp(r.request_id), i32(r.attempt), lp(w.workerId)));
  const id = enc.encode(r.request_id);
  const decoder = new TextDecoder();
  return {
    body: JSON.stringify({ request_id: r.request_id, enc: toB64(new Uint8Array(sender.enc)), ciphertext: toB64(ciphertext), cancel_mac: hex(cancelMac) }),
    async open(chunk) {
      const nonce = new Uint8Array(12);
      new DataView(nonce.buffer).setBigUint64(4, BigInt(chunk.sequence));
      const chunkAad = new Uint8Array(15 + 2 + id.length + 9);
      chunkAad.set(enc.encode("cocoon-chunk-v1"));
      const view = new DataView(chunkAad.buffer);
      view.setUint16(15, id.length);
      chunkAad.set(id, 17);
      view.setBigUint64(17 + id.length, BigInt(chunk.sequence));
      chunkAad[25 + id.length] = chunk.final ? 1 : 0;
      const sealed = b64(chunk.ciphertext);
      const plain = new Uint8Array(await (await streamKey).open(buf(nonce), buf(sealed), buf(chunkAad)));
      ciphertexts.push(sealed);
      plaintexts.push(plain);
      return decoder.decode(plain, { stream: !chunk.final });
    },
    async checkReceipt(receiptJson) {
      const sha256 = async (b: Uint8Array) => hex(new Uint8Array(await crypto.subtle.digest("SHA-256", buf(b))));
      // The signed bytes are the receipt object exactly as the worker wrote it (between "receipt": and ,"signature":).
      const inner = receiptJson.slice(receiptJson.indexOf(":") + 1, receiptJson.lastIndexOf(',"signature":'));
      const signed = JSON.parse(receiptJson);
      const rc = signed.receipt;
      // The transcript: each ciphertext length-prefixed (u32 big-endian), in order.
      const transcript = concat(...ciphertexts.flatMap(c => { const n = new Uint8Array(4); new DataView(n.buffer).setUint32(0, c.length); return [n, c]; }));
      return [
        { name: "signed by the attested worker", ok: await ed25519(w.signingPublicKey, concat(enc.encode("cocoon usage receipt v1\0"), enc.encode(inner)), b64(signed.signature)) },
        { name: "for this request and worker", ok: rc.requestId === r.request_id && rc.workerId === w.workerId && String(rc.modelSha256).toLowerCase() === w.modelSha256.toLowerCase() },
        { name: "covers the stream this page opened", ok: hex(b64(rc.chunksSha256)) === await sha256(transcript) },
        { name: "request hash is what this page sealed", ok: hex(b64(rc.requestSha256)) === await sha256(requestBytes) },
        { name: "answer hash is what this page read", ok: hex(b64(rc.responseSha256)) === await sha256(concat(...plaintexts)) },
      ];
    },
    async authentic(error) {
      if (!error.worker_mac) return false;
      const expected = hex(await hmac(controlKey, concat(lp("cocoon/control/error/v1"), lp(r.request_id), i32(r.attempt), lp(w.workerId), lp(error.code))));
      return expected === error.worker_mac.toLowerCase();
    },
  };
}

export function describe(w: VerifiedWorker): string {
  return `Sealed in this browser to a verified worker (${w.teeKind}, measurement ${w.measurement.slice(0, 12)}…, model ${w.modelSha256.toLowerCase().slice(0, 12)}…; tier ${w.tier})`;
}
export { hex };
