// A test TON wallet for the Mini App's browser tests: a real v5r1 wallet (@ton/ton) under a fresh Ed25519 key, on the
// local chain (Cocoon.Ledger/LocalChain). It answers TON Connect's requests the way a wallet app does: ton_addr and a
// ton_proof signed per the TON Connect spec, and sendTransaction as a signed v5r1 external message sent to the chain.
// The key never enters the page: browser.mjs exposes these functions to the page's injected JS bridge.
import { createHash, randomBytes } from "node:crypto";
import { beginCell, Cell, external, internal, storeMessage, storeStateInit, Address, SendMode } from "@ton/core";
import { keyPairFromSeed, sign } from "@ton/crypto";
import { WalletContractV5R1 } from "@ton/ton";

export async function createTestWallet(chainUrl) {
  const key = keyPairFromSeed(randomBytes(32));
  const wallet = WalletContractV5R1.create({ workchain: 0, publicKey: key.publicKey });
  const stateInit = beginCell().store(storeStateInit(wallet.init)).endCell().toBoc().toString("base64");
  const chain = new URL(chainUrl);
  let seqno = 0;
  const sent = [];
  const calls = [];

  async function post(path, body) {
    const response = await fetch(new URL(path, chain), { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const json = await response.json();
    if (!response.ok) throw new Error(`${path}: ${json.error ?? response.status}`);
    return json;
  }

  // Gas money from the chain's faucet (the wallet is deployed by its first transfer, which carries its state init).
  await post("test/fund", { address: wallet.address.toRawString(), amount: String(1000n * 1_000_000_000n) });

  return {
    address: wallet.address.toRawString(),
    publicKey: key.publicKey.toString("hex"),
    sent,
    calls,

    /** TON Connect's ton_addr item and, when asked, a ton_proof (spec: "ton-proof-item-v2/" message, signed over 0xffff "ton-connect" hash). */
    async connect(request) {
      calls.push("connect " + JSON.stringify(request).slice(0, 300));
      const items = [{ name: "ton_addr", address: wallet.address.toRawString(), network: "-239", publicKey: key.publicKey.toString("hex"), walletStateInit: stateInit }];
      const proofItem = (request.items ?? []).find(i => i.name === "ton_proof");
      if (proofItem) {
        const manifest = await (await fetch(request.manifestUrl)).json();
        const domain = new URL(manifest.url).hostname;
        const timestamp = Math.floor(Date.now() / 1000);
        const wc = Buffer.alloc(4); wc.writeInt32BE(wallet.address.workChain);
        const domainLength = Buffer.alloc(4); domainLength.writeUInt32LE(Buffer.byteLength(domain));
        const ts = Buffer.alloc(8); ts.writeBigUInt64LE(BigInt(timestamp));
        const message = Buffer.concat([Buffer.from("ton-proof-item-v2/"), wc, wallet.address.hash, domainLength, Buffer.from(domain), ts, Buffer.from(proofItem.payload)]);
        const full = Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.from("ton-connect"), createHash("sha256").update(message).digest()]);
        const signature = sign(createHash("sha256").update(full).digest(), key.secretKey);
        items.push({ name: "ton_proof", proof: { timestamp, domain: { lengthBytes: Buffer.byteLength(domain), value: domain }, payload: proofItem.payload, signature: signature.toString("base64") } });
      }
      return items;
    },

    /** sendTransaction: every message as an internal transfer in one signed v5r1 external message, sent to the chain. */
    async sendTransaction(params) {
      calls.push("sendTransaction");
      if (params.validUntil && params.validUntil < Date.now() / 1000) throw new Error("the request expired");
      const messages = params.messages.map(m => {
        const to = Address.parseFriendly(m.address);
        return internal({ to: to.address, bounce: to.isBounceable, value: BigInt(m.amount), body: m.payload ? Cell.fromBase64(m.payload) : undefined });
      });
      const transfer = wallet.createTransfer({ seqno, secretKey: key.secretKey, messages, sendMode: SendMode.PAY_GAS_SEPARATELY | SendMode.IGNORE_ERRORS });
      const ext = beginCell().store(storeMessage(external({ to: wallet.address, init: seqno === 0 ? wallet.init : undefined, body: transfer }))).endCell();
      const boc = ext.toBoc().toString("base64");
      await post("api/v2/sendBoc", { boc });
      seqno++;
      sent.push({ messages: params.messages.length, amount: params.messages.reduce((n, m) => n + BigInt(m.amount), 0n).toString() });
      return boc;
    },
  };
}

// Runs in the page before its scripts: the JS bridge an injected (in-wallet browser) wallet puts on window, which
// @tonconnect/sdk finds (window.<jsBridgeKey>.tonconnect) and talks to with connect/send/listen. The SDK only looks
// for the bridge keys of wallets in its list (fetched from GitHub, else its built-in fallback list; any other key is
// discovered only in its QA mode), so the test wallet answers under Tonkeeper's key, as Tonkeeper's in-app browser
// does; isWalletBrowser makes it the embedded wallet, which @tonconnect/ui connects to without the wallet picker.
export function injectedBridge() {
  const listeners = [];
  let connected = null;
  let id = 0;
  const device = { platform: "iphone", appName: "cocoontestwallet", appVersion: "1.0.0", maxProtocolVersion: 2, features: ["SendTransaction", { name: "SendTransaction", maxMessages: 4 }] };
  window.tonkeeper = {
    tonconnect: {
      deviceInfo: device,
      walletInfo: { name: "Cocoon Test Wallet", app_name: "cocoontestwallet", image: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg'/%3E", about_url: "https://example.invalid", platforms: ["ios", "android", "chrome"] },
      protocolVersion: 2,
      isWalletBrowser: true,
      async connect(protocolVersion, request) {
        try {
          const items = await window.__walletConnect(request);
          connected = { event: "connect", id: ++id, payload: { items, device } };
          return connected;
        } catch (e) {
          return { event: "connect_error", id: ++id, payload: { code: 0, message: String(e?.message ?? e) } };
        }
      },
      async restoreConnection() {
        return connected ?? { event: "connect_error", id: ++id, payload: { code: 0, message: "not connected" } };
      },
      async send(message) {
        if (message.method === "disconnect") { connected = null; return { result: {}, id: message.id }; }
        if (message.method !== "sendTransaction") return { error: { code: 400, message: "unsupported " + message.method }, id: message.id };
        try {
          return { result: await window.__walletSend(JSON.parse(message.params[0])), id: message.id };
        } catch (e) {
          return { error: { code: 1, message: String(e?.message ?? e) }, id: message.id };
        }
      },
      listen(callback) {
        listeners.push(callback);
        return () => listeners.splice(listeners.indexOf(callback), 1);
      },
    },
  };
}
