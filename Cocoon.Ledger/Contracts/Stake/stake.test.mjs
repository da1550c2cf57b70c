// Contract tests of the stake contract on @ton/sandbox (the real TVM, offline). Run: node --test (npm test).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Blockchain } from '@ton/sandbox';
import { beginCell, toNano } from '@ton/core';
import { stakeStateInit } from './compile.mjs';

const OP = { deposit: 0x5e7a0001, request: 0x5e7a0002, withdraw: 0x5e7a0003, slash: 0x5e7a0004, withdrawalPaid: 0x5e7a0010, slashPaid: 0x5e7a0011 };
const ERR = { notOwner: 401, noStake: 402, tooLittle: 403, tooLarge: 404, nothingPending: 405, unbonding: 406, zero: 407 };
const DELAY = 7 * 24 * 3600;
const FEE = toNano('0.05');

async function setUp() {
    const chain = await Blockchain.create();
    chain.now = 1_800_000_000;
    const owner = await chain.treasury('network');
    const provider = await chain.treasury('provider');
    const other = await chain.treasury('other-provider');
    const user = await chain.treasury('user');
    const { init, address } = await stakeStateInit({ owner: owner.address, unbondingDelay: DELAY, depositFee: FEE });
    await owner.send({ to: address, value: toNano('1'), init, bounce: false });
    const send = (from, value, body) => from.send({ to: address, value, body, bounce: true });
    const get = async (method, provider) => {
        const args = provider ? [{ type: 'slice', cell: beginCell().storeAddress(provider).endCell() }] : [];
        return chain.runGetMethod(address, method, args);
    };
    const num = async (method, who) => (await get(method, who)).stackReader.readBigNumber();
    return { chain, owner, provider, other, user, address, send, get, num };
}

const deposit = (queryId = 1n) => beginCell().storeUint(OP.deposit, 32).storeUint(queryId, 64).endCell();
const request = (amount) => beginCell().storeUint(OP.request, 32).storeUint(2n, 64).storeCoins(amount).endCell();
const withdraw = () => beginCell().storeUint(OP.withdraw, 32).storeUint(3n, 64).endCell();
const slash = (provider, amount, reason, beneficiary) => beginCell().storeUint(OP.slash, 32).storeUint(4n, 64)
    .storeAddress(provider).storeCoins(amount).storeUint(reason, 256).storeAddress(beneficiary).endCell();

function failedWith(result, address, exitCode) {
    const tx = result.transactions.find((t) => t.inMessage?.info.dest?.equals?.(address));
    assert.ok(tx, 'no transaction on the stake contract');
    assert.equal(tx.description.type, 'generic');
    assert.equal(tx.description.computePhase.type, 'vm');
    assert.equal(tx.description.computePhase.exitCode, exitCode);
}

function succeeded(result, address) {
    const tx = result.transactions.find((t) => t.inMessage?.info.dest?.equals?.(address));
    assert.ok(tx, 'no transaction on the stake contract');
    assert.equal(tx.description.computePhase.exitCode, 0);
    assert.equal(tx.description.aborted, false);
}

test('a deposit adds the value less the fee to the sender\'s stake; getters read it', async () => {
    const s = await setUp();
    succeeded(await s.send(s.provider, toNano('10'), deposit()), s.address);
    succeeded(await s.send(s.provider, toNano('5'), deposit()), s.address);
    assert.equal(await s.num('stake_of', s.provider.address), toNano('15') - 2n * FEE);
    assert.equal(await s.num('stake_of', s.other.address), 0n);
    assert.equal(await s.num('pending_withdrawal_of', s.provider.address), 0n);
    assert.equal(await s.num('unbonding_end_of', s.provider.address), 0n);
    assert.equal(await s.num('unbonding_delay'), BigInt(DELAY));
    assert.equal(await s.num('deposit_fee'), FEE);
    assert.ok((await s.get('owner')).stackReader.readAddress().equals(s.owner.address));
});

test('a deposit not above the fee is refused', async () => {
    const s = await setUp();
    failedWith(await s.send(s.provider, FEE, deposit()), s.address, ERR.tooLittle);
    assert.equal(await s.num('stake_of', s.provider.address), 0n);
});

test('a withdrawal waits out the unbonding delay, then pays the provider', async () => {
    const s = await setUp();
    await s.send(s.provider, toNano('10'), deposit());
    const stake = await s.num('stake_of', s.provider.address);
    succeeded(await s.send(s.provider, toNano('0.1'), request(toNano('4'))), s.address);
    assert.equal(await s.num('stake_of', s.provider.address), stake - toNano('4'));
    assert.equal(await s.num('pending_withdrawal_of', s.provider.address), toNano('4'));
    assert.equal(await s.num('unbonding_end_of', s.provider.address), BigInt(s.chain.now + DELAY));

    failedWith(await s.send(s.provider, toNano('0.1'), withdraw()), s.address, ERR.unbonding);
    s.chain.now += DELAY;
    const before = await s.provider.getBalance();
    const result = await s.send(s.provider, toNano('0.1'), withdraw());
    succeeded(result, s.address);
    const paid = result.transactions.find((t) => t.inMessage?.info.dest?.equals?.(s.provider.address) && t.inMessage.info.src?.equals?.(s.address));
    assert.ok(paid, 'no payout to the provider');
    assert.equal(paid.inMessage.info.value.coins, toNano('4'));
    assert.equal(paid.inMessage.body.beginParse().loadUint(32), OP.withdrawalPaid);
    assert.ok((await s.provider.getBalance()) > before + toNano('3.8'));
    assert.equal(await s.num('pending_withdrawal_of', s.provider.address), 0n);
    assert.equal(await s.num('unbonding_end_of', s.provider.address), 0n);
    failedWith(await s.send(s.provider, toNano('0.1'), withdraw()), s.address, ERR.nothingPending);
});

test('a withdrawal request above the stake, of zero, or without a stake is refused', async () => {
    const s = await setUp();
    failedWith(await s.send(s.provider, toNano('0.1'), request(toNano('1'))), s.address, ERR.noStake);
    await s.send(s.provider, toNano('2'), deposit());
    failedWith(await s.send(s.provider, toNano('0.1'), request(toNano('2'))), s.address, ERR.tooLarge);
    failedWith(await s.send(s.provider, toNano('0.1'), request(0n)), s.address, ERR.zero);
});

test('only the network\'s key slashes; the slash goes to the beneficiary with the reason hash and reaches pending withdrawals', async () => {
    const s = await setUp();
    await s.send(s.provider, toNano('10'), deposit());
    const stake = await s.num('stake_of', s.provider.address);
    await s.send(s.provider, toNano('0.1'), request(toNano('6')));
    const reason = BigInt('0x' + 'ab'.repeat(32));

    failedWith(await s.send(s.provider, toNano('0.1'), slash(s.provider.address, toNano('1'), reason, s.provider.address)), s.address, ERR.notOwner);
    failedWith(await s.send(s.user, toNano('0.1'), slash(s.provider.address, toNano('1'), reason, s.user.address)), s.address, ERR.notOwner);
    failedWith(await s.send(s.owner, toNano('0.1'), slash(s.other.address, toNano('1'), reason, s.user.address)), s.address, ERR.noStake);
    assert.equal(await s.num('stake_of', s.provider.address), stake - toNano('6'));

    // More than the bonded stake: the rest comes out of the pending withdrawal.
    const take = stake - toNano('6') + toNano('2');
    const result = await s.send(s.owner, toNano('0.1'), slash(s.provider.address, take, reason, s.user.address));
    succeeded(result, s.address);
    const paid = result.transactions.find((t) => t.inMessage?.info.dest?.equals?.(s.user.address) && t.inMessage.info.src?.equals?.(s.address));
    assert.ok(paid, 'no slash payment to the beneficiary');
    assert.equal(paid.inMessage.info.value.coins, take);
    const body = paid.inMessage.body.beginParse();
    assert.equal(body.loadUint(32), OP.slashPaid);
    body.loadUint(64);
    assert.ok(body.loadAddress().equals(s.provider.address));
    assert.equal(body.loadUintBig(256), reason);

    assert.equal(await s.num('stake_of', s.provider.address), 0n);
    assert.equal(await s.num('pending_withdrawal_of', s.provider.address), toNano('4'));
    const position = (await s.get('position_of', s.provider.address)).stackReader;
    assert.equal(position.readBigNumber(), 0n);
    assert.equal(position.readBigNumber(), toNano('4'));
    assert.equal(position.readBigNumber(), BigInt(s.chain.now + DELAY));
    assert.equal(position.readBigNumber(), take);
    assert.equal(position.readBigNumber(), reason);

    // Slashing more than is left takes what is left and clears the unbonding.
    succeeded(await s.send(s.owner, toNano('0.1'), slash(s.provider.address, toNano('100'), reason + 1n, s.owner.address)), s.address);
    assert.equal(await s.num('pending_withdrawal_of', s.provider.address), 0n);
    assert.equal(await s.num('unbonding_end_of', s.provider.address), 0n);
    s.chain.now += DELAY;
    failedWith(await s.send(s.provider, toNano('0.1'), withdraw()), s.address, ERR.nothingPending);
});

test('providers are kept apart', async () => {
    const s = await setUp();
    await s.send(s.provider, toNano('10'), deposit());
    await s.send(s.other, toNano('3'), deposit());
    await s.send(s.owner, toNano('0.1'), slash(s.provider.address, toNano('1'), 1n, s.user.address));
    assert.equal(await s.num('stake_of', s.provider.address), toNano('9') - FEE);
    assert.equal(await s.num('stake_of', s.other.address), toNano('3') - FEE);
});

test('an unknown opcode is refused, a plain transfer is accepted', async () => {
    const s = await setUp();
    failedWith(await s.send(s.provider, toNano('1'), beginCell().storeUint(0x12345678, 32).endCell()), s.address, 0xFFFF);
    succeeded(await s.send(s.provider, toNano('1'), beginCell().endCell()), s.address);
    assert.equal(await s.num('stake_of', s.provider.address), 0n);
});
