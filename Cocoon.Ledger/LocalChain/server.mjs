// The local TON chain: @ton/sandbox (the real TVM and wallet contracts, offline) behind the toncenter v2/v3 HTTP
// endpoints Cocoon uses, plus test-only routes. Usage: node server.mjs [--port N] (0 = any free port).
// The network wallet's 32-byte Ed25519 seed comes from COCOON_CHAIN_SEED (hex) or is generated and printed in the
// ready line. Exits when stdin closes or on SIGTERM/SIGINT.
import http from 'node:http';
import crypto from 'node:crypto';
import { Blockchain } from '@ton/sandbox';
import { Address, beginCell, Cell, comment, contractAddress, internal, storeMessage, storeMessageRelaxed, toNano } from '@ton/core';
import { keyPairFromSeed } from '@ton/crypto';
import { WalletContractV5R1 } from '@ton/ton';
import { compileStake } from '../Contracts/Stake/compile.mjs';

const argPort = (() => { const i = process.argv.indexOf('--port'); return i > 0 ? Number(process.argv[i + 1]) : undefined; })();
const port = argPort ?? Number(process.env.COCOON_CHAIN_PORT ?? 0);
const seedHex = process.env.COCOON_CHAIN_SEED || crypto.randomBytes(32).toString('hex');
const seedGenerated = !process.env.COCOON_CHAIN_SEED;

const blockchain = await Blockchain.create();
const key = keyPairFromSeed(Buffer.from(seedHex, 'hex'));
const networkWallet = WalletContractV5R1.create({ workchain: 0, publicKey: key.publicKey });

// Our own per-account index, newest last: sandbox 0.41's getTransactions reverses its stored list in place.
const txsByAccount = new Map();
let queue = Promise.resolve();
const serialized = (fn) => { const next = queue.then(fn, fn); queue = next.catch(() => {}); return next; };

const rawOf = (addr) => addr.toRawString();
const accountKey = (tx) => `0:${tx.address.toString(16).padStart(64, '0')}`;
function record(result) {
  for (const tx of result.transactions) {
    const k = accountKey(tx);
    if (!txsByAccount.has(k)) txsByAccount.set(k, []);
    txsByAccount.get(k).push(tx);
  }
  return result;
}

// Deploy the network wallet: fund it with its state init attached.
const faucet = await blockchain.treasury('cocoon-faucet', { balance: toNano('1000000000') });
record(await faucet.send({ to: networkWallet.address, value: toNano('1000'), init: networkWallet.init, bounce: false }));

// The provider stake contract (Contracts/Stake), owned by the network wallet: the only key that may slash. Its code is
// compiled by @ton/tolk-js from the Stake folder (its own node_modules) and re-read here as a cell of this process's
// @ton/core, so the sandbox never sees two copies of the library's classes.
const STAKE_OP = { deposit: 0x5e7a0001, request: 0x5e7a0002, withdraw: 0x5e7a0003 };
const stakeCode = Cell.fromBoc((await compileStake()).toBoc())[0];
const stakeData = beginCell()
  .storeAddress(networkWallet.address)
  .storeUint(Number(process.env.COCOON_STAKE_UNBONDING ?? 7 * 24 * 3600), 32)
  .storeCoins(BigInt(process.env.COCOON_STAKE_DEPOSIT_FEE ?? toNano('0.05')))
  .storeDict(null)
  .endCell();
const stakeInit = { code: stakeCode, data: stakeData };
const stakeAddress = contractAddress(0, stakeInit);
record(await faucet.send({ to: stakeAddress, value: toNano('1'), init: stakeInit, bounce: false }));

function inMsgCell(tx) {
  // Transaction: ^[ in_msg:(Maybe ^Message) out_msgs ] is the first ref of the raw transaction cell.
  const s = tx.raw.refs[0].beginParse();
  return s.loadBit() ? s.loadRef() : null;
}

function decodeBody(body) {
  const s = body.beginParse();
  if (s.remainingBits >= 32) {
    const op = s.loadUint(32);
    if (op === 0) {
      try { return { opcode: 0, comment: s.loadStringTail() }; } catch { return { opcode: 0, comment: null }; }
    }
    return { opcode: op, comment: null };
  }
  return { opcode: null, comment: null };
}

const b64 = (buf) => Buffer.from(buf).toString('base64');
const friendly = (a) => (a ? a.toString({ bounceable: true, urlSafe: true }) : '');
const raw3 = (a) => (a ? `${a.workChain}:${a.hash.toString('hex').toUpperCase()}` : null);

function messageCommon(msg, cell) {
  const info = msg.info;
  const decoded = decodeBody(msg.body);
  return {
    cell, info, decoded,
    hash: cell ? b64(cell.hash()) : b64(beginCell().store(storeMessage(msg)).endCell().hash()),
    src: info.type === 'internal' ? info.src : null,
    dest: info.dest,
    value: info.type === 'internal' ? info.value.coins.toString() : '0',
    bodyBoc: b64(msg.body.toBoc()),
  };
}

function v2Message(msg, cell) {
  const m = messageCommon(msg, cell);
  return {
    '@type': 'raw.message',
    hash: m.hash,
    source: friendly(m.src),
    destination: m.info.type === 'external-out' ? '' : friendly(m.dest),
    value: m.value,
    extra_currencies: [],
    fwd_fee: m.info.type === 'internal' ? m.info.forwardFee.toString() : '0',
    ihr_fee: m.info.type === 'internal' ? m.info.ihrFee.toString() : '0',
    created_lt: m.info.type === 'external-in' ? '0' : m.info.createdLt.toString(),
    body_hash: b64(msg.body.hash()),
    msg_data: m.decoded.comment !== null
      ? { '@type': 'msg.dataText', text: b64(Buffer.from(m.decoded.comment, 'utf8')) }
      : { '@type': 'msg.dataRaw', body: m.bodyBoc, init_state: '' },
    message: m.decoded.comment ?? '',
  };
}

function v3Message(msg, cell) {
  const m = messageCommon(msg, cell);
  const internalInfo = m.info.type === 'internal' ? m.info : null;
  return {
    hash: m.hash,
    source: raw3(m.src),
    destination: m.info.type === 'external-out' ? null : raw3(m.dest),
    value: m.info.type === 'external-in' ? null : m.value,
    fwd_fee: internalInfo ? internalInfo.forwardFee.toString() : null,
    ihr_fee: internalInfo ? internalInfo.ihrFee.toString() : null,
    created_lt: m.info.type === 'external-in' ? null : m.info.createdLt.toString(),
    created_at: m.info.type === 'external-in' ? null : String(m.info.createdAt),
    opcode: m.decoded.opcode === null ? null : '0x' + m.decoded.opcode.toString(16).padStart(8, '0'),
    ihr_disabled: internalInfo ? internalInfo.ihrDisabled : null,
    bounce: internalInfo ? internalInfo.bounce : null,
    bounced: internalInfo ? internalInfo.bounced : null,
    import_fee: m.info.type === 'external-in' ? m.info.importFee.toString() : null,
    message_content: {
      hash: b64(msg.body.hash()),
      body: m.bodyBoc,
      decoded: m.decoded.comment !== null ? { type: 'text_comment', comment: m.decoded.comment } : null,
    },
    init_state: null,
  };
}

function outMessages(tx) {
  return [...tx.outMessages.values()];
}

function description(tx) {
  const d = tx.description;
  const compute = d.computePhase;
  return {
    type: 'ord',
    aborted: !!d.aborted,
    destroyed: !!d.destroyed,
    credit_first: !!d.creditFirst,
    compute_ph: compute?.type === 'vm'
      ? { skipped: false, success: compute.success, exit_code: compute.exitCode, gas_used: compute.gasUsed.toString() }
      : { skipped: true, reason: compute?.reason ?? 'unknown' },
    action: d.actionPhase
      ? { success: d.actionPhase.success, result_code: d.actionPhase.resultCode, tot_actions: d.actionPhase.totalActions, skipped_actions: d.actionPhase.skippedActions }
      : null,
  };
}

function v2Tx(tx, account) {
  return {
    '@type': 'raw.transaction',
    address: { '@type': 'accountAddress', account_address: friendly(Address.parseRaw(account)) },
    utime: tx.now,
    data: b64(tx.raw.toBoc()),
    transaction_id: { '@type': 'internal.transactionId', lt: tx.lt.toString(), hash: b64(tx.hash()) },
    fee: tx.totalFees.coins.toString(),
    storage_fee: '0',
    other_fee: '0',
    in_msg: tx.inMessage ? v2Message(tx.inMessage, inMsgCell(tx)) : null,
    out_msgs: outMessages(tx).map((m) => v2Message(m, null)),
  };
}

function v3Tx(tx, account) {
  return {
    account: raw3(Address.parseRaw(account)),
    hash: b64(tx.hash()),
    lt: tx.lt.toString(),
    now: tx.now,
    mc_block_seqno: null,
    trace_id: null,
    prev_trans_hash: b64(Buffer.from(tx.prevTransactionHash.toString(16).padStart(64, '0'), 'hex')),
    prev_trans_lt: tx.prevTransactionLt.toString(),
    orig_status: tx.oldStatus,
    end_status: tx.endStatus,
    total_fees: tx.totalFees.coins.toString(),
    description: description(tx),
    in_msg: tx.inMessage ? v3Message(tx.inMessage, inMsgCell(tx)) : null,
    out_msgs: outMessages(tx).map((m) => v3Message(m, null)),
  };
}

class HttpError extends Error { constructor(status, message) { super(message); this.status = status; } }

function parseAddress(text) {
  if (!text) throw new HttpError(416, 'address is required');
  try { return Address.parse(text); } catch (e) { throw new HttpError(416, `Incorrect address: ${e.message}`); }
}

async function accountState(address) {
  const contract = await blockchain.getContract(address);
  return contract;
}

const v2 = {
  async getTransactions(q) {
    const account = rawOf(parseAddress(q.get('address')));
    const limit = Math.min(Number(q.get('limit') ?? 10), 256);
    const lt = q.get('lt') ? BigInt(q.get('lt')) : null;
    const hash = q.get('hash');
    const toLt = q.get('to_lt') ? BigInt(q.get('to_lt')) : 0n;
    const all = [...(txsByAccount.get(account) ?? [])].reverse();
    let start = 0;
    if (lt !== null) {
      start = all.findIndex((t) => t.lt <= lt && (!hash || t.lt < lt || b64(t.hash()) === hash || Buffer.from(t.hash()).toString('hex') === hash));
      if (start < 0) return [];
    }
    return all.slice(start).filter((t) => t.lt > toLt).slice(0, limit).map((t) => v2Tx(t, account));
  },
  async getAddressBalance(q) {
    const contract = await accountState(parseAddress(q.get('address')));
    return contract.balance.toString();
  },
  async getWalletInformation(q) {
    const address = parseAddress(q.get('address'));
    const contract = await accountState(address);
    const state = contract.accountState?.type === 'active' ? 'active' : contract.accountState?.type === 'frozen' ? 'frozen' : 'uninitialized';
    const last = contract.lastTransactionLt ? { '@type': 'internal.transactionId', lt: contract.lastTransactionLt.toString(), hash: b64(Buffer.from(contract.lastTransactionHash.toString(16).padStart(64, '0'), 'hex')) } : { '@type': 'internal.transactionId', lt: '0', hash: b64(Buffer.alloc(32)) };
    const result = { wallet: false, balance: contract.balance.toString(), extra_currencies: [], account_state: state, last_transaction_id: last };
    if (state === 'active') {
      try {
        const seqno = (await blockchain.runGetMethod(address, 'seqno')).stackReader.readNumber();
        result.wallet = true;
        result.seqno = seqno;
        const codeHash = contract.accountState.state.code?.hash().toString('hex');
        if (codeHash === networkWallet.init.code.hash().toString('hex')) {
          result.wallet_type = 'wallet v5 r1';
          result.wallet_id = Number((await blockchain.runGetMethod(address, 'get_subwallet_id')).stackReader.readBigNumber());
        }
      } catch { /* not a wallet */ }
    }
    return result;
  },
};

// toncenter v2 runGetMethod: {address, method, stack} with arguments as [type, value] pairs ("num" decimal or hex,
// "tvm.Slice"/"tvm.Cell" base64 bags of cells); the result's stack numbers are hex ("0x..", "-0x.."), cells and
// slices {bytes}, as toncenter answers. A failing method is still ok:true with its exit_code.
function stackArg(item) {
  if (!Array.isArray(item) || item.length !== 2) throw new HttpError(400, 'stack items are [type, value] pairs');
  const [type, value] = item;
  switch (type) {
    case 'num': case 'number': case 'int': return { type: 'int', value: BigInt(value) };
    case 'tvm.Slice': return { type: 'slice', cell: Cell.fromBase64(value) };
    case 'tvm.Cell': return { type: 'cell', cell: Cell.fromBase64(value) };
    default: throw new HttpError(400, `unsupported stack item type ${type}`);
  }
}

function stackResult(item) {
  switch (item.type) {
    case 'int': return ['num', item.value < 0n ? '-0x' + (-item.value).toString(16) : '0x' + item.value.toString(16)];
    case 'null': return ['null', null];
    case 'cell': return ['cell', { bytes: b64(item.cell.toBoc()), object: {} }];
    case 'slice': return ['slice', { bytes: b64(item.cell.toBoc()), object: {} }];
    case 'builder': return ['builder', { bytes: b64(item.cell.toBoc()), object: {} }];
    case 'tuple': return ['tuple', { '@type': 'tvm.tuple', elements: item.items.map(stackEntry) }];
    default: return ['unknown', null];
  }
}

function stackEntry(item) {
  switch (item.type) {
    case 'int': return { '@type': 'tvm.stackEntryNumber', number: { '@type': 'tvm.numberDecimal', number: item.value.toString() } };
    case 'cell': return { '@type': 'tvm.stackEntryCell', cell: { '@type': 'tvm.cell', bytes: b64(item.cell.toBoc()) } };
    case 'slice': return { '@type': 'tvm.stackEntrySlice', slice: { '@type': 'tvm.slice', bytes: b64(item.cell.toBoc()) } };
    case 'tuple': return { '@type': 'tvm.stackEntryTuple', tuple: { '@type': 'tvm.tuple', elements: item.items.map(stackEntry) } };
    default: return { '@type': 'tvm.stackEntryUnsupported' };
  }
}

async function runGetMethod(body) {
  const address = parseAddress(body.address);
  if (!body.method) throw new HttpError(400, 'method is required');
  const args = (body.stack ?? []).map(stackArg);
  const contract = await blockchain.getContract(address);
  if (contract.accountState?.type !== 'active') {
    return { '@type': 'smc.runResult', gas_used: 0, stack: [], exit_code: -13, '@extra': `${Date.now()}:0` };
  }
  let result;
  try {
    result = await blockchain.runGetMethod(address, body.method, args);
  } catch (e) {
    // The sandbox throws on a non-zero exit code; toncenter answers it.
    const exitCode = typeof e?.exitCode === 'number' ? e.exitCode : 11;
    return { '@type': 'smc.runResult', gas_used: 0, stack: [], exit_code: exitCode, '@extra': `${Date.now()}:0` };
  }
  return {
    '@type': 'smc.runResult',
    gas_used: Number(result.gasUsed),
    stack: result.stack.map(stackResult),
    exit_code: result.exitCode,
    '@extra': `${Date.now()}:0`,
  };
}

async function sendBoc(body) {
  let cell;
  try { cell = Cell.fromBase64(body.boc); } catch (e) { throw new HttpError(400, `Invalid bag of cells: ${e.message}`); }
  try {
    record(await blockchain.sendMessage(cell));
  } catch (e) {
    throw new HttpError(500, `LITE_SERVER_UNKNOWN: cannot apply external message to current state : ${e.message}`);
  }
  return { '@type': 'ok', '@extra': `${Date.now()}:0` };
}

function v3Transactions(q) {
  const account = rawOf(parseAddress(q.get('account')));
  const startLt = q.get('start_lt') ? BigInt(q.get('start_lt')) : 0n;
  const endLt = q.get('end_lt') ? BigInt(q.get('end_lt')) : null;
  const limit = Math.min(Number(q.get('limit') ?? 10), 1000);
  const offset = Number(q.get('offset') ?? 0);
  const sort = q.get('sort') ?? 'desc';
  let list = (txsByAccount.get(account) ?? []).filter((t) => t.lt >= startLt && (endLt === null || t.lt <= endLt));
  if (sort === 'desc') list = [...list].reverse();
  return { transactions: list.slice(offset, offset + limit).map((t) => v3Tx(t, account)), address_book: {} };
}

const users = new Map();
async function userWallet(name) {
  if (!users.has(name)) users.set(name, await blockchain.treasury(`user:${name}`, { balance: toNano('1000000') }));
  return users.get(name);
}

const test = {
  async fund(body) {
    const to = parseAddress(body.address);
    const result = record(await faucet.send({ to, value: BigInt(body.amount), bounce: false }));
    return { transactions: result.transactions.length };
  },
  async pay(body) {
    const from = await userWallet(body.from ?? 'alice');
    const to = body.to ? parseAddress(body.to) : networkWallet.address;
    // A message body as a BOC (base64, what a ton:// link's bin carries), else a text comment, else none.
    const msg = body.bin != null ? Cell.fromBase64(body.bin) : body.comment != null ? comment(body.comment) : undefined;
    const result = record(await from.send({ to, value: BigInt(body.amount), body: msg, bounce: body.bounce ?? false }));
    const mine = result.transactions.find((t) => accountKey(t) === rawOf(to));
    return { from: rawOf(from.address), to: rawOf(to), lt: mine?.lt.toString() ?? null, hash: mine ? b64(mine.hash()) : null };
  },
  // A named user wallet stakes (Deposit) or asks for its stake back (RequestWithdrawal), as a provider would from
  // its payout wallet.
  async stake(body) {
    const from = await userWallet(body.from ?? 'alice');
    const msg = body.withdraw != null
      ? beginCell().storeUint(STAKE_OP.request, 32).storeUint(0, 64).storeCoins(BigInt(body.withdraw)).endCell()
      : beginCell().storeUint(STAKE_OP.deposit, 32).storeUint(0, 64).endCell();
    const value = body.withdraw != null ? toNano('0.1') : BigInt(body.amount);
    const result = record(await from.send({ to: stakeAddress, value, body: msg, bounce: true }));
    const mine = result.transactions.find((t) => accountKey(t) === rawOf(stakeAddress));
    const compute = mine?.description.computePhase;
    return { from: rawOf(from.address), exitCode: compute?.type === 'vm' ? compute.exitCode : null };
  },
  async wallet(body) {
    const w = await userWallet(body.name ?? 'alice');
    return { address: rawOf(w.address) };
  },
};

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => { try { resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}); } catch { reject(new HttpError(400, 'Body is not JSON')); } });
    req.on('error', reject);
  });
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  // As toncenter does, any origin may read: a browser (the Mini App's one-tap verify) reads anchors from the chain itself.
  const reply = (status, obj) => { res.writeHead(status, { 'content-type': 'application/json', 'access-control-allow-origin': '*' }); res.end(JSON.stringify(obj)); };
  const p = url.pathname;
  try {
    if (req.method === 'GET' && p.startsWith('/api/v2/') && v2[p.slice(8)]) {
      return reply(200, { ok: true, result: await serialized(() => v2[p.slice(8)](url.searchParams)) });
    }
    if (req.method === 'POST' && p === '/api/v2/sendBoc') {
      const body = await readBody(req);
      return reply(200, { ok: true, result: await serialized(() => sendBoc(body)) });
    }
    if (req.method === 'POST' && p === '/api/v2/runGetMethod') {
      const body = await readBody(req);
      return reply(200, { ok: true, result: await serialized(() => runGetMethod(body)) });
    }
    if (req.method === 'GET' && p === '/api/v3/transactions') {
      return reply(200, await serialized(() => v3Transactions(url.searchParams)));
    }
    if (req.method === 'POST' && p.startsWith('/test/') && test[p.slice(6)]) {
      const body = await readBody(req);
      return reply(200, await serialized(() => test[p.slice(6)](body)));
    }
    return reply(404, { ok: false, error: 'Not found', code: 404 });
  } catch (e) {
    const status = e instanceof HttpError ? e.status : 500;
    return reply(status, p.startsWith('/api/v3/') ? { error: e.message } : { ok: false, error: e.message, code: status });
  }
});

server.listen(port, '127.0.0.1', () => {
  const ready = {
    ready: true,
    port: server.address().port,
    networkAddress: rawOf(networkWallet.address),
    networkAddressFriendly: networkWallet.address.toString({ bounceable: false, urlSafe: true }),
    stakeAddress: rawOf(stakeAddress),
    ...(seedGenerated ? { seed: seedHex } : {}),
  };
  process.stdout.write(JSON.stringify(ready) + '\n');
});

const shutdown = () => { server.close(); process.exit(0); };
process.stdin.on('end', shutdown);
process.stdin.on('close', shutdown);
process.stdin.resume();
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
