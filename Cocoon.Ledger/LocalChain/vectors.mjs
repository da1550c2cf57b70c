// Prints JSON test vectors made with @ton/core and @ton/ton; the C# TON library must reproduce them byte for byte.
import { Address, beginCell, Cell, comment, internal, external, storeMessage, storeMessageRelaxed, SendMode } from '@ton/core';
import { keyPairFromSeed, sign, sha256_sync, mnemonicNew, mnemonicToPrivateKey } from '@ton/crypto';
import { WalletContractV4, WalletContractV5R1 } from '@ton/ton';

const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
const key = keyPairFromSeed(seed);
const hex = (b) => Buffer.from(b).toString('hex');
const bocs = (c) => ({
  hash: hex(c.hash()),
  depth: c.depth(),
  boc: hex(c.toBoc({ idx: false, crc32: false })),
  bocCrc: hex(c.toBoc({ idx: false, crc32: true })),
  bocIdx: hex(c.toBoc({ idx: true, crc32: false })),
  bocIdxCrc: hex(c.toBoc({ idx: true, crc32: true })),
});

const addresses = [
  Address.parseRaw('0:' + hex(sha256_sync('cocoon-a'))),
  Address.parseRaw('-1:' + hex(sha256_sync('cocoon-b'))),
  Address.parseRaw('0:' + '00'.repeat(32)),
].map((a) => ({
  raw: a.toRawString(),
  bounceableUrl: a.toString({ bounceable: true, urlSafe: true }),
  nonBounceableUrl: a.toString({ bounceable: false, urlSafe: true }),
  bounceableStd: a.toString({ bounceable: true, urlSafe: false }),
  testBounceable: a.toString({ bounceable: true, testOnly: true, urlSafe: true }),
  testNonBounceable: a.toString({ bounceable: false, testOnly: true, urlSafe: true }),
}));

// Cell cases; the C# test builds the same cells by name.
const leaf = beginCell().storeUint(0b1010, 4).endCell();
const mid = beginCell().storeUint(7, 8).storeRef(leaf).endCell();
const cells = {
  empty: beginCell().endCell(),
  bits17: beginCell().storeUint(0x12345, 17).endCell(),
  full1023: beginCell().storeUint(1, 1).storeBuffer(Buffer.alloc(127, 0xa5)).storeUint(0x3f, 6).endCell(),
  signed: beginCell().storeInt(-5, 8).storeInt(-1, 1).storeInt(123456789, 40).endCell(),
  coins: beginCell().storeCoins(0).storeCoins(1).storeCoins(1_000_000_000n).storeCoins(4611686018427387904n).endCell(),
  address: beginCell().storeAddress(Address.parseRaw(addresses[1].raw)).storeAddress(null).endCell(),
  shared: beginCell().storeUint(0xdeadbeef, 32).storeRef(mid).storeRef(leaf).storeRef(mid).endCell(),
  maybe: beginCell().storeMaybeRef(null).storeMaybeRef(leaf).endCell(),
  commentShort: comment('hello'),
  commentLong: comment('Cocoon top-up 🚀 ' + 'ünïcødé-'.repeat(40)),
};
const cellVectors = Object.fromEntries(Object.entries(cells).map(([k, c]) => [k, bocs(c)]));

const dest = Address.parseRaw(addresses[0].raw);
const intMsg = beginCell().store(storeMessageRelaxed(internal({ to: dest, value: 1_500_000_000n, bounce: false, body: 'inv-42' }))).endCell();
const intMsgBig = beginCell().store(storeMessageRelaxed(internal({ to: dest, value: 7n, bounce: true, body: cells.commentLong }))).endCell();

const v4 = WalletContractV4.create({ workchain: 0, publicKey: key.publicKey });
const v5 = WalletContractV5R1.create({ workchain: 0, publicKey: key.publicKey });
const v5test = WalletContractV5R1.create({ workchain: 0, publicKey: key.publicKey, walletId: { networkGlobalId: -3 } });
const v5m1 = WalletContractV5R1.create({ workchain: -1, publicKey: key.publicKey, walletId: { networkGlobalId: -239, context: { workchain: -1, subwalletNumber: 7, walletVersion: 'v5r1' } } });

const payees = [0, 1, 2].map((i) => internal({
  to: Address.parseRaw(`0:${hex(sha256_sync('provider-' + i))}`), value: BigInt(1_000_000 * (i + 1)), bounce: false, body: `payout-${i}`,
}));
const ext = (wallet, body, withInit) => beginCell().store(storeMessage(external({ to: wallet.address, init: withInit ? wallet.init : undefined, body }))).endCell();
const v4t = v4.createTransfer({ seqno: 5, secretKey: key.secretKey, timeout: 1700000000, sendMode: SendMode.PAY_GAS_SEPARATELY + SendMode.IGNORE_ERRORS, messages: payees.slice(0, 2) });
const v4t0 = v4.createTransfer({ seqno: 0, secretKey: key.secretKey, timeout: 1700000000, sendMode: 3, messages: payees.slice(0, 1) });
const v5t = v5.createTransfer({ seqno: 9, secretKey: key.secretKey, timeout: 1700000000, sendMode: SendMode.PAY_GAS_SEPARATELY, messages: payees });
const v5t0 = v5.createTransfer({ seqno: 0, secretKey: key.secretKey, timeout: 1700000000, sendMode: 3, messages: [] });
const many = Array.from({ length: 255 }, (_, i) => internal({ to: dest, value: BigInt(i + 1), bounce: true }));
const v5many = v5.createTransfer({ seqno: 1, secretKey: key.secretKey, timeout: 1700000000, sendMode: 1, messages: many });

const wallets = {
  publicKey: hex(key.publicKey),
  v4: { address: v4.address.toRawString(), walletId: v4.walletId, data: hex(v4.init.data.toBoc({ idx: false, crc32: false })) },
  v5: { address: v5.address.toRawString(), data: hex(v5.init.data.toBoc({ idx: false, crc32: false })) },
  v5test: { address: v5test.address.toRawString() },
  v5m1: { address: v5m1.address.toRawString() },
  v4Code: hex(v4.init.code.toBoc({ idx: false, crc32: false })),
  v5Code: hex(v5.init.code.toBoc({ idx: false, crc32: false })),
  v4Transfer: bocs(ext(v4, v4t, false)),
  v4TransferDeploy: bocs(ext(v4, v4t0, true)),
  v5Transfer: bocs(ext(v5, v5t, false)),
  v5TransferDeploy: bocs(ext(v5, v5t0, true)),
  v5Transfer255: bocs(ext(v5, v5many, false)),
  stateInitV5: hex(beginCell().storeBit(0).storeBit(0).storeMaybeRef(v5.init.code).storeMaybeRef(v5.init.data).storeBit(0).endCell().toBoc()),
};

// ton_proof as a wallet makes it (docs.ton.org, "Verifying signed-in users").
const domain = 'cocoon.example';
const timestamp = 1700000000;
const payload = 'nonce-0123456789abcdef';
const wcBuf = Buffer.alloc(4); wcBuf.writeInt32BE(v5.address.workChain);
const dl = Buffer.alloc(4); dl.writeUInt32LE(Buffer.byteLength(domain));
const ts = Buffer.alloc(8); ts.writeBigUInt64LE(BigInt(timestamp));
const msg = Buffer.concat([Buffer.from('ton-proof-item-v2/'), wcBuf, v5.address.hash, dl, Buffer.from(domain), ts, Buffer.from(payload)]);
const full = Buffer.concat([Buffer.from([0xff, 0xff]), Buffer.from('ton-connect'), sha256_sync(msg)]);
const proof = {
  address: v5.address.toRawString(), domain, timestamp, payload,
  signingHash: hex(sha256_sync(full)),
  signature: sign(sha256_sync(full), key.secretKey).toString('base64'),
  stateInit: beginCell().storeBit(0).storeBit(0).storeMaybeRef(v5.init.code).storeMaybeRef(v5.init.data).storeBit(0).endCell().toBoc().toString('base64'),
};

const words = await mnemonicNew(24);
const mnemonic = { words: words.join(' '), publicKey: hex((await mnemonicToPrivateKey(words)).publicKey) };

process.stdout.write(JSON.stringify({
  mnemonic,
  seed: hex(seed), addresses, cells: cellVectors,
  internal: { short: bocs(intMsg), big: bocs(intMsgBig) },
  wallets, proof,
}));
