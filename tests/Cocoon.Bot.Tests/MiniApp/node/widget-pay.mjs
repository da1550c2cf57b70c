// The user's wallet in the /topup widget test: a fresh test wallet on the local chain (test-wallet.mjs) pays the
// TON Connect request the bot answered the widget's query with, as a wallet app does after the user confirms.
// stdin: {"chainUrl": "...", "request": {validUntil, messages: [{address, amount, payload}]}}
// stdout: {"address": raw wallet address, "msgHash": hex, "amount": nanotons} where msgHash is the normalized hash of
// the external message (TEP-467: src addr_none, import_fee 0, no init, body as a reference), the msg_hash a
// sent_transaction widget query carries.
import { beginCell, Cell, loadMessage, storeMessage } from "@ton/core";
import { createTestWallet } from "./test-wallet.mjs";

const input = JSON.parse(await new Promise(resolve => {
  let text = "";
  process.stdin.on("data", chunk => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

const wallet = await createTestWallet(input.chainUrl);
const boc = await wallet.sendTransaction(input.request);
const message = loadMessage(Cell.fromBase64(boc).beginParse());
const normalized = beginCell()
  .store(storeMessage({ info: { type: "external-in", src: null, dest: message.info.dest, importFee: 0n }, init: null, body: message.body }, { forceRef: true }))
  .endCell();
process.stdout.write(JSON.stringify({ address: wallet.address, msgHash: normalized.hash().toString("hex"), amount: wallet.sent[0].amount }));
