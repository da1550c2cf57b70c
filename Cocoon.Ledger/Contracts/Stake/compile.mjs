// Compiles stake.tolk with @ton/tolk-js (offline, well under a second) and returns the code cell.
import { runTolkCompiler } from '@ton/tolk-js';
import { Cell } from '@ton/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const here = dirname(fileURLToPath(import.meta.url));

export async function compileStake() {
    const result = await runTolkCompiler({
        entrypointFileName: 'stake.tolk',
        fsReadCallback: (path) => readFileSync(join(here, path), 'utf-8'),
    });
    if (result.status !== 'ok') {
        throw new Error(`stake.tolk does not compile: ${result.message}`);
    }
    return Cell.fromBase64(result.codeBoc64);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const code = await compileStake();
    console.log(code.toBoc().toString('base64'));
}
