// The anchor half of "Verify this answer": is the receipt this page checked inside a root that the network wrote on
// TON? The gateway hands over the receipt document (Merkle proof, transaction id); the page recomputes the leaf from
// the receipt bytes it received with the answer, folds the proof itself, and reads the root from the transaction on
// the chain API (MiniApp:ChainApiUrl, e.g. toncenter) straight from this browser, so what is on chain is not the
// gateway's word. Receipts are anchored in batches (Receipts:AnchorPeriod), so a fresh answer is "pending" first.
import { Cell } from "@ton/core";

export type AnchorState = "pending" | "ok" | "failed" | "unavailable";

export interface AnchorResult { state: AnchorState; lines: { name: string; ok: boolean }[]; note: string }

/** "cort": the op code of the network wallet's root message (Cocoon.Ledger/Receipts/ReceiptRootMessage.cs). */
const RootOpCode = 0x636f7274;

const enc = new TextEncoder();
const b64 = (s: string) => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const hex = (b: Uint8Array) => Array.from(b, x => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => new Uint8Array((s.match(/../g) ?? []).map(x => parseInt(x, 16)));
const sha256 = async (...parts: Uint8Array[]) => {
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) { all.set(p, o); o += p.length; }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", all.slice().buffer as ArrayBuffer));
};

/** The root a message body carries (op, query id, 256-bit root), or null when the body is something else. */
function rootOf(bodyBase64: string | undefined): string | null {
  if (!bodyBase64) return null;
  try {
    const s = Cell.fromBase64(bodyBase64).beginParse();
    if (s.remainingBits < 32 + 64 + 256 || s.loadUint(32) !== RootOpCode) return null;
    s.loadUintBig(64);
    return hex(new Uint8Array(s.loadBuffer(32)));
  } catch {
    return null;
  }
}

/**
 * Checks one answer's anchor. <paramref name="receiptJson"/> is the worker's signed receipt exactly as the answer
 * stream carried it (the bytes the page already checked); <paramref name="document"/> is GET api/receipts/{id}.
 */
export async function checkAnchor(receiptJson: string, document: any): Promise<AnchorResult> {
  const canonical = enc.encode(receiptJson.slice(receiptJson.indexOf(":") + 1, receiptJson.lastIndexOf(',"signature":')));
  const signature = b64(JSON.parse(receiptJson).signature);
  const lines: { name: string; ok: boolean }[] = [];
  lines.push({ name: "the gateway keeps the receipt this page checked", ok: hex(b64(document.receipt_canonical ?? "")) === hex(canonical) });
  const anchor = document.anchor;
  if (!anchor) return { state: lines[0].ok ? "pending" : "failed", lines, note: "Not anchored yet: receipts go on TON in batches. Checking again…" };

  // Leaf = SHA-256(0x00 || receipt || signature); node = SHA-256(0x01 || left || right) (Cocoon.Engine ReceiptMerkle).
  let node = await sha256(new Uint8Array([0]), canonical, signature);
  for (const step of anchor.proof as { side: string; hash: string }[]) {
    node = step.side === "left" ? await sha256(new Uint8Array([1]), unhex(step.hash), node) : await sha256(new Uint8Array([1]), node, unhex(step.hash));
  }
  lines.push({ name: `in batch root ${String(anchor.root).slice(0, 12)}… (${anchor.leaf_count} receipt${anchor.leaf_count === 1 ? "" : "s"})`, ok: hex(node) === String(anchor.root).toLowerCase() });
  const tx = anchor.transaction;
  if (!tx) return { state: lines.every(l => l.ok) ? "pending" : "failed", lines, note: "The root is on its way to TON. Checking again…" };
  if (!document.chain_api) {
    return { state: "unavailable", lines, note: `This gateway names no public chain API for the page; ./cocoon verify ${document.id} reads transaction ${tx.hash} on TON.` };
  }

  let onChain: string | null = null;
  let note: string;
  try {
    const url = `${document.chain_api}api/v3/transactions?account=${encodeURIComponent(tx.account)}&start_lt=${tx.lt}&end_lt=${tx.lt}&limit=10&sort=asc`;
    const response = await fetch(url);
    const found = ((await response.json()).transactions ?? []).find((t: any) => t.hash === tx.hash);
    onChain = found ? (found.out_msgs ?? []).map((m: any) => rootOf(m.message_content?.body)).find((r: string | null) => r !== null) ?? null : null;
    note = found ? `Read from TON: transaction ${tx.hash} (lt ${tx.lt})${onChain ? `, root ${onChain.slice(0, 12)}…` : " carries no root"}` : `Transaction ${tx.hash} is not on the chain this page reads.`;
  } catch (e: any) {
    return { state: "unavailable", lines, note: `Could not read TON from this browser (${e?.message ?? e}); ./cocoon verify ${document.id} checks it.` };
  }
  lines.push({ name: "the same root is on TON", ok: onChain === String(anchor.root).toLowerCase() });
  return { state: lines.every(l => l.ok) ? "ok" : "failed", lines, note };
}
