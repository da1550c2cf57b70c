// An independent client of Cocoon's client-sealed API (README "Sealed by the client"). It trusts nothing the gateway
// says without checking: the worker's attestation document is verified here (the worker's Ed25519 signature, the
// simulated platform's Ed25519 signature, the platform key, measurement and model hash against the published policy),
// the request is sealed with @hpke/* to the HPKE key inside that verified document, and the sealed answer stream is
// opened with a key exported from this client's own HPKE context (which the gateway never has).
// Wire v2: the HPKE info is length-prefixed and binds the deadline the reservation names; the AAD binds the reply
// stream; the client sends the gateway only the MAC of this attempt's cancel (from the control key it exports), so the
// gateway can stop the worker when this client goes away, and checks the worker's refusals' MACs itself.
//
// stdin: {"base": "http://…/", "apiKey": "…", "model": "…", "maxTokens": 40, "messages": [{"role","content"}],
//         "temperature": 0, "exclude": ["worker id", …], "maxAttempts": 1, "excludeFailed": false,
//         "pinnedMeasurement": "hex"?, "stopAfterChunks": n (abort the request after n opened chunks, as a stop button),
//         and self-tests of the checks: "breakFirstBinding": true | "deadline", "tamperDocument", "wrongCancelMac"}
// stdout: one JSON object: {"ok": true, text, requestId, workerId, measurement, modelSha256, teeKind, usage, receipt}
//         or {"ok": false, status, error} (error is the gateway's error object, e.g. a retryable sealed_attempt_failed).
import { createHash, createHmac, createPublicKey, verify, createDecipheriv, timingSafeEqual, randomBytes } from "node:crypto";
import { CipherSuite, DhkemX25519HkdfSha256, HkdfSha256 } from "@hpke/core";
import { Chacha20Poly1305 } from "@hpke/chacha20poly1305";

const enc = new TextEncoder();
const input = JSON.parse(await new Promise(resolve => { let s = ""; process.stdin.on("data", d => s += d); process.stdin.on("end", () => resolve(s)); }));
const headers = { "authorization": `Bearer ${input.apiKey}`, "content-type": "application/json" };

function fail(message) { throw new Error(message); }
const b64 = s => Buffer.from(s, "base64");
const hex = b => Buffer.from(b).toString("hex");

function ed25519Verify(rawPublicKey, message, signature) {
  const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(rawPublicKey)]);
  return verify(null, message, createPublicKey({ key: spki, format: "der", type: "spki" }), signature);
}

/** Verifies the worker's signed attestation against the published policy; returns the parsed document. */
function verifyAttestation(reservation) {
  const a = reservation.attestation ?? fail("the reservation carries no attestation bundle");
  const policy = reservation.policy;
  const docBytes = b64(a.document);
  // Self-test of the check: a changed byte in the document must fail the worker's signature.
  if (input.tamperDocument) docBytes[docBytes.indexOf('"workerId":"') + 12] ^= 1; // one letter of a string: still valid JSON
  const doc = JSON.parse(docBytes.toString("utf8"));
  const signing = b64(doc.signingPublicKey);
  if (!ed25519Verify(signing, Buffer.concat([enc.encode("cocoon attestation document v1\0"), docBytes]), b64(a.worker_signature))) fail("the worker's signature does not cover the document");
  if (doc.teeKind !== "simulated" || a.evidence_kind !== "simulated") fail(`unsupported TEE kind ${doc.teeKind}: this client checks simulated platforms only`);
  const platform = (a.platform_public_key ?? "").toLowerCase();
  if (!policy.trusted_simulated_platform_keys.includes(platform)) fail(`platform key ${platform} is not in the published policy`);
  const docHash = createHash("sha256").update(docBytes).digest();
  if (!ed25519Verify(Buffer.from(platform, "hex"), Buffer.concat([enc.encode("cocoon simulated tee v1\0"), docHash]), b64(a.evidence_payload))) fail("the platform signature does not cover the document");
  const measurement = doc.measurement.toLowerCase();
  if (!policy.allowed_measurements.includes(measurement) && !policy.accept_any_simulated_measurement) fail(`measurement ${measurement} is not allowed by the policy`);
  // A client may pin the measurement it trusts instead of taking the gateway's published allow-list.
  if (input.pinnedMeasurement && input.pinnedMeasurement.toLowerCase() !== measurement) fail(`measurement ${measurement} is not the pinned ${input.pinnedMeasurement}`);
  const model = doc.modelSha256.toLowerCase();
  if (!(policy.served_model_hashes.includes(model) || policy.accept_any_model) || model !== reservation.model_sha256.toLowerCase()) fail(`model ${model} is not the reserved, served model`);
  if (doc.workerId !== reservation.worker_id) fail("the document is another worker's");
  if (doc.expiresAt <= Date.now()) fail("the document has expired");
  return { doc, measurement, platform };
}

/** The worker's statement over this client's nonce, signed by the document's key, naming its worker, model and HPKE key. */
function verifyStatement(reservation, doc, nonce) {
  const st = reservation.statement ?? fail("the reservation carries no statement over this client's nonce");
  const canonical = b64(st.canonical);
  if (!ed25519Verify(b64(doc.signingPublicKey), Buffer.concat([enc.encode("cocoon attestation statement v1\0"), canonical]), b64(st.signature))) fail("the statement is not signed by the attested key");
  const s = JSON.parse(canonical.toString("utf8"));
  if (hex(b64(s.nonce)) !== nonce) fail("the statement answers another nonce");
  if (s.workerId !== doc.workerId || s.modelSha256.toLowerCase() !== doc.modelSha256.toLowerCase() || hex(b64(s.hpkePublicKey)) !== hex(b64(doc.hpkePublicKey))) fail("the statement names another worker, model or key");
}

// The length-prefixed encoding of JobBinding / JobControlKey (BindingWriter): lp(x) = u16 BE length || bytes, integers BE.
function lp(value) {
  const bytes = typeof value === "string" ? Buffer.from(value, "utf8") : Buffer.from(value);
  const len = Buffer.alloc(2); len.writeUInt16BE(bytes.length);
  return Buffer.concat([len, bytes]);
}
const i32 = n => { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; };
const i64 = n => { const b = Buffer.alloc(8); b.writeBigInt64BE(BigInt(n)); return b; };

/** HPKE info: lp("cocoon/job/v2") || lp(request id) || i32 attempt || lp(worker id) || lp(model hash) || i64 deadline UTC ticks. */
function jobInfo(requestId, attempt, workerId, modelSha256, deadlineTicks) {
  return Buffer.concat([lp("cocoon/job/v2"), lp(requestId), i32(attempt), lp(workerId), lp(modelSha256), i64(deadlineTicks)]);
}

/** HPKE AAD: lp("cocoon/job-aad/v2") || lp(reply stream). */
const jobAad = replyTo => Buffer.concat([lp("cocoon/job-aad/v2"), lp(replyTo)]);

const cancelMac = (controlKey, requestId, attempt, workerId) =>
  createHmac("sha256", controlKey).update(Buffer.concat([lp("cocoon/control/cancel/v1"), lp(requestId), i32(attempt), lp(workerId)])).digest();

const errorMac = (controlKey, requestId, attempt, workerId, reason) =>
  createHmac("sha256", controlKey).update(Buffer.concat([lp("cocoon/control/error/v1"), lp(requestId), i32(attempt), lp(workerId), lp(reason)])).digest();

function chunkAad(requestId, sequence, final) {
  const id = enc.encode(requestId);
  const aad = Buffer.alloc(15 + 2 + id.length + 8 + 1);
  aad.write("cocoon-chunk-v1", 0, "ascii");
  aad.writeUInt16BE(id.length, 15);
  Buffer.from(id).copy(aad, 17);
  aad.writeBigInt64BE(BigInt(sequence), 17 + id.length);
  aad[25 + id.length] = final ? 1 : 0;
  return aad;
}

function openChunk(key, requestId, chunk) {
  const sealed = b64(chunk.ciphertext);
  const nonce = Buffer.alloc(12);
  nonce.writeBigInt64BE(BigInt(chunk.sequence), 4);
  const d = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  d.setAAD(chunkAad(requestId, chunk.sequence, chunk.final), { plaintextLength: sealed.length - 16 });
  d.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - 16)), d.final()]);
}

/** One sealed attempt: reserve, verify, seal, send, open. breakBinding seals under a wrong attempt number (true) or deadline ("deadline"): the worker cannot open it. */
async function attempt(exclude, breakBinding) {
  // A fresh nonce: the reserved worker signs a statement over it with its attested key (it is live now).
  const nonce = randomBytes(32).toString("hex");
  const reserveResponse = await fetch(new URL("v1/sealed/reserve", input.base), {
    method: "POST", headers, body: JSON.stringify({ model: input.model, max_tokens: input.maxTokens, exclude_workers: exclude, nonce }),
  });
  const reservation = await reserveResponse.json();
  if (!reserveResponse.ok) { return { ok: false, step: "reserve", status: reserveResponse.status, error: reservation.error }; }
  const { doc, measurement, platform } = verifyAttestation(reservation);
  verifyStatement(reservation, doc, nonce);

  // Seal the whole GenerationRequest (the worker's wire shape) to the HPKE key inside the verified document.
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
  const recipientPublicKey = await suite.kem.deserializePublicKey(new Uint8Array(b64(doc.hpkePublicKey)).buffer);
  // The deadline comes as decimal UTC ticks (exact; a JS Date has milliseconds only). A self-test moves it by 1 ms.
  const deadlineTicks = BigInt(reservation.deadline_ticks) + (breakBinding === "deadline" ? 10000n : 0n);
  if (BigInt(new Date(reservation.deadline).getTime()) * 10000n + 621355968000000000n !== BigInt(reservation.deadline_ticks)) fail("the deadline's ticks and time disagree");
  const info = jobInfo(reservation.request_id, reservation.attempt + (breakBinding === true ? 1 : 0), doc.workerId, doc.modelSha256, deadlineTicks);
  const sender = await suite.createSenderContext({ recipientPublicKey, info: new Uint8Array(info).buffer });
  // Every sampling field spelled out, as the gateway's own serializer writes them (camelCase, the worker's defaults).
  const generation = {
    messages: input.messages,
    sampling: { maxTokens: input.maxTokens, temperature: input.temperature ?? 0, topP: 0.95, topK: 40, minP: 0.05, repetitionPenalty: 1, seed: 42, stop: [] },
  };
  const requestBytes = enc.encode(JSON.stringify(generation));
  const ciphertext = new Uint8Array(await sender.seal(requestBytes.slice().buffer, new Uint8Array(jobAad(reservation.reply_to)).buffer));
  const streamKey = Buffer.from(await sender.export(enc.encode("cocoon stream v1").buffer, 32));
  // The control key stays here; the gateway gets the one MAC it needs to stop this attempt on this worker.
  const controlKey = Buffer.from(await sender.export(enc.encode("cocoon control v1").buffer, 32));
  const rightMac = cancelMac(controlKey, reservation.request_id, reservation.attempt, doc.workerId);
  const mac = Buffer.from(rightMac);
  if (input.wrongCancelMac) mac[0] ^= 1; // self-test: the worker must ignore a cancel that is not the client's

  const abort = new AbortController();
  const sent = await fetch(new URL("v1/sealed/chat/completions", input.base), {
    method: "POST", headers, signal: abort.signal,
    body: JSON.stringify({
      request_id: reservation.request_id, enc: Buffer.from(sender.enc).toString("base64"), ciphertext: Buffer.from(ciphertext).toString("base64"), cancel_mac: mac.toString("hex"),
    }),
  });
  // A refusal's MAC is checked here: only this client and the worker hold the control key.
  const refusal = error => ({ ...error, authenticated: !!error?.worker_mac && timingSafeEqual(Buffer.from(error.worker_mac, "hex"), errorMac(controlKey, reservation.request_id, reservation.attempt, doc.workerId, error.code)) });
  if (!sent.ok) { return { ok: false, step: "send", status: sent.status, requestId: reservation.request_id, workerId: doc.workerId, error: refusal((await sent.json()).error) }; }

  // Read the SSE stream: sealed chunks in order, then the receipt, then [DONE] (or an error event).
  let text = "", receiptJson = null, usage = null, error = null, next = 0, buffered = "";
  const pieces = [];
  const transcript = createHash("sha256");
  const decoder = new TextDecoder();
  let opened = 0;
  try {
  for await (const part of sent.body) {
    buffered += decoder.decode(part, { stream: true });
    let cut;
    while ((cut = buffered.indexOf("\n\n")) >= 0) {
      const line = buffered.slice(0, cut); buffered = buffered.slice(cut + 2);
      if (!line.startsWith("data: ")) continue;
      const data = line.slice(6);
      if (data === "[DONE]") continue;
      const event = JSON.parse(data);
      if (event.error) { error = refusal(event.error); continue; }
      if (event.receipt_json) { receiptJson = event.receipt_json; usage = event.usage; continue; }
      if (event.sequence !== next++) fail(`chunk ${event.sequence} out of order`);
      const piece = openChunk(streamKey, reservation.request_id, event);
      pieces.push(piece);
      text += piece.toString("utf8");
      const sealed = b64(event.ciphertext), len = Buffer.alloc(4);
      len.writeUInt32BE(sealed.length);
      transcript.update(len).update(sealed);
      if (input.stopAfterChunks && ++opened >= input.stopAfterChunks) abort.abort();
    }
  }
  } catch (e) {
    if (!abort.signal.aborted) throw e;
    // Stopped on purpose: the gateway sees the connection close and sends the worker this attempt's cancel.
    // The right MAC is printed only for the wrong-MAC self-test, so the test can then send the real cancel itself.
    return { ok: false, step: "stopped", stopped: true, text, requestId: reservation.request_id, workerId: doc.workerId, cancelMac: input.wrongCancelMac ? rightMac.toString("hex") : undefined };
  }
  if (error) { return { ok: false, step: "stream", status: 200, requestId: reservation.request_id, workerId: doc.workerId, error }; }
  receiptJson ?? fail("the stream ended without a receipt");

  // The receipt: the worker's signature over its exact bytes, bound to this request, worker, model and the ciphertexts we opened.
  const inner = receiptJson.slice(receiptJson.indexOf(":") + 1, receiptJson.lastIndexOf(',"signature":'));
  const signed = JSON.parse(receiptJson);
  if (!ed25519Verify(b64(doc.signingPublicKey), Buffer.concat([enc.encode("cocoon usage receipt v1\0"), Buffer.from(inner, "utf8")]), b64(signed.signature))) fail("the receipt's signature does not verify under the attested key");
  const r = signed.receipt;
  if (r.requestId !== reservation.request_id || r.workerId !== doc.workerId || r.modelSha256.toLowerCase() !== doc.modelSha256.toLowerCase()) fail("the receipt is for another request");
  if (Buffer.compare(b64(r.chunksSha256), transcript.digest()) !== 0) fail("the receipt's transcript hash is not the stream we opened");
  // The two hashes only this client can check (the gateway never saw either text): what it sealed and what it read.
  if (Buffer.compare(b64(r.requestSha256), createHash("sha256").update(requestBytes).digest()) !== 0) fail("the receipt's request hash is not the request we sealed");
  if (Buffer.compare(b64(r.responseSha256), createHash("sha256").update(Buffer.concat(pieces)).digest()) !== 0) fail("the receipt's response hash is not the answer we opened");
  if (usage.completion_tokens !== r.completionTokens || usage.prompt_tokens !== r.promptTokens) fail("the usage differs from the receipt");

  return ({ ok: true, text, requestId: reservation.request_id, workerId: doc.workerId, measurement, platform, modelSha256: doc.modelSha256, teeKind: doc.teeKind, usage, receipt: r });
}

// A retryable failure means the gateway could not get an answer from that worker and cannot re-seal for another one
// itself (it never had the plaintext): this client reserves again, excluding the failed worker when asked, and re-seals.
const attempts = [];
const exclude = [...(input.exclude ?? [])];
for (let i = 0; i < (input.maxAttempts ?? 1); i++) {
  const result = await attempt(exclude, i === 0 ? (input.breakFirstBinding ?? false) : false);
  attempts.push(result);
  if (result.ok || !result.error?.retryable) break;
  if (input.excludeFailed && result.workerId) exclude.push(result.workerId);
}
console.log(JSON.stringify({ ...attempts[attempts.length - 1], attempts }));
