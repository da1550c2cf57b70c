// Compiles stake.tolk with @ton/tolk-js (offline, well under a second) and builds the contract's initial state, for
// the contract tests and for whoever deploys it (the local chain, a testnet script).
import { runTolkCompiler } from '@ton/tolk-js';
import { Cell, beginCell, contractAddress } from '@ton/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

let compiled;

// Compiled once per process.
export function compileStake() {
    compiled ??= compile();
    return compiled;
}

async function compile() {
    const result = await runTolkCompiler({
        entrypointFileName: 'stake.tolk',
        fsReadCallback: (path) => readFileSync(join(here, path), 'utf-8'),
    });
    if (result.status !== 'ok') {
        throw new Error(`stake.tolk does not compile: ${result.message}`);
    }
    return Cell.fromBase64(result.codeBoc64);
}

// The initial storage: the network's key (owner), the unbonding delay in seconds, the deposit fee in nanotons, no positions.
export function stakeData({ owner, unbondingDelay, depositFee }) {
    return beginCell().storeAddress(owner).storeUint(unbondingDelay, 32).storeCoins(depositFee).storeDict(null).endCell();
}

export async function stakeStateInit(params, workchain = 0) {
    const init = { code: await compileStake(), data: stakeData(params) };
    return { init, address: contractAddress(workchain, init) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const code = await compileStake();
    console.log(code.toBoc().toString('base64'));
}
