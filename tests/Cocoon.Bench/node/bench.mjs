// Peer for `./cocoon bench`: node-llama-cpp 3.22.1 (the same prebuilt llama.cpp build the worker loads) generating
// greedily from the same prompt. Prints one JSON object on stdout:
//   node bench.mjs MODEL THREADS PROMPT MAX_TOKENS STREAMS
// Per stream: prompt tokens, generated tokens, time to the first token and time of the rest; plus the text of stream 0.
import {getLlama, LlamaLogLevel} from "node-llama-cpp";

const [modelPath, threadsArg, prompt, maxTokensArg, streamsArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const maxTokens = Number(maxTokensArg);
const streams = Number(streamsArg ?? "1");

const llama = await getLlama({
    gpu: false, build: "never", skipDownload: true, usePrebuiltBinaries: true,
    maxThreads: threads, logLevel: LlamaLogLevel.error, progressLogs: false
});
const model = await llama.loadModel({modelPath, gpuLayers: 0});
const context = await model.createContext({contextSize: 2048 * streams, sequences: streams, threads, batchSize: 512});

// BOS first, as llama.cpp's tools tokenize a raw prompt.
const promptTokens = model.tokens.bos != null ? [model.tokens.bos, ...model.tokenize(prompt)] : model.tokenize(prompt);

async function run(sequence) {
    const tokens = [];
    const start = performance.now();
    let first = 0;
    for await (const token of sequence.evaluate(promptTokens, {temperature: 0})) {
        if (tokens.length === 0) first = performance.now();
        if (model.isSpecialToken(token) && token === model.tokens.eos) break;
        tokens.push(token);
        if (tokens.length >= maxTokens) break;
    }
    const end = performance.now();
    return {promptTokens: promptTokens.length, generated: tokens.length, promptMs: first - start, generationMs: end - first, tokens};
}

const wallStart = performance.now();
const results = await Promise.all(Array.from({length: streams}, () => run(context.getSequence())));
const wallMs = performance.now() - wallStart;
console.log(JSON.stringify({
    peer: "node-llama-cpp 3.22.1",
    threads, streams, wallMs,
    promptTokenIds: promptTokens,
    text: model.detokenize(results[0].tokens),
    results: results.map(({tokens, ...r}) => r)
}));
await context.dispose();
await model.dispose();
await llama.dispose();
