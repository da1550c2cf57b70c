// Who seals a chat prompt to the worker. Today the gateway does (it checks the worker's attestation and seals the
// job); sealing in this browser needs what the receipts issue (12) adds: a nonce-bound attestation the page can
// verify itself (GET /v1/attestation?model=&nonce=) and an endpoint that relays a client-sealed request. When
// those exist, sealingPlan() returns "browser" after verifying, and sealInBrowser() below seals the request.
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
  return {
    by: "gateway",
    detail: "The gateway seals your message to the worker's attested key; it does not store or log the text. " +
      "Sealing in this browser comes with verifiable attestations.",
  };
}

/** HPKE base mode, DHKEM(X25519, HKDF-SHA256) + HKDF-SHA256 + ChaCha20-Poly1305: the suite the workers' keys use. */
export async function sealInBrowser(workerHpkeKeyHex: string, info: Uint8Array, plaintext: Uint8Array): Promise<{ enc: Uint8Array; ciphertext: Uint8Array }> {
  const suite = new CipherSuite({ kem: new DhkemX25519HkdfSha256(), kdf: new HkdfSha256(), aead: new Chacha20Poly1305() });
  const keyBytes = new Uint8Array(workerHpkeKeyHex.match(/../g)!.map(b => parseInt(b, 16)));
  const recipientPublicKey = await suite.kem.deserializePublicKey(keyBytes.buffer);
  const sender = await suite.createSenderContext({ recipientPublicKey, info: info.buffer as ArrayBuffer });
  const ciphertext = new Uint8Array(await sender.seal(plaintext.buffer as ArrayBuffer));
  return { enc: new Uint8Array(sender.enc), ciphertext };
}
