// An independent reference for Cocoon's embeddings: reads {"model","vocab","inputs":[text...],"pooling","normalize"}
// on stdin, tokenizes each text with its own small BERT WordPiece (lowercase, strip accents, split on whitespace and
// punctuation, greedy longest-match with "##" continuations, [CLS] … [SEP]), runs the ONNX file on onnxruntime-node
// one input at a time (no padding), pools and normalizes, and prints {"ids":[[…]],"vectors":[[…]]} on stdout.
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';

const request = JSON.parse(readFileSync(0, 'utf8'));
const vocab = new Map(readFileSync(request.vocab, 'utf8').split('\n').filter((t) => t.length > 0).map((t, i) => [t, i]));

function basicTokens(text) {
  const clean = text.toLowerCase().normalize('NFD').replace(/\p{Mn}/gu, '');
  return clean.split(/\s+/u).filter((w) => w.length > 0).flatMap((w) => w.split(/(\p{P}|\p{S})/u).filter((p) => p.length > 0));
}

function wordPiece(word) {
  if (word.length > 100) return ['[UNK]'];
  const pieces = [];
  let start = 0;
  while (start < word.length) {
    let end = word.length;
    let found = null;
    while (start < end) {
      const piece = (start > 0 ? '##' : '') + word.slice(start, end);
      if (vocab.has(piece)) { found = piece; break; }
      end--;
    }
    if (found === null) return ['[UNK]'];
    pieces.push(found);
    start = end;
  }
  return pieces;
}

function tokenize(text) {
  return [vocab.get('[CLS]'), ...basicTokens(text).flatMap(wordPiece).map((p) => vocab.get(p)), vocab.get('[SEP]')];
}

const session = await ort.InferenceSession.create(request.model, { executionProviders: ['cpu'] });
const ids = request.inputs.map(tokenize);
const vectors = [];
for (const row of ids) {
  const n = row.length;
  const feeds = {
    input_ids: new ort.Tensor('int64', BigInt64Array.from(row.map(BigInt)), [1, n]),
    attention_mask: new ort.Tensor('int64', BigInt64Array.from(row.map(() => 1n)), [1, n]),
  };
  const out = (await session.run(feeds)).last_hidden_state;
  const dim = out.dims[2];
  let v = new Array(dim).fill(0);
  if (request.pooling === 'cls') {
    for (let j = 0; j < dim; j++) v[j] = out.data[j];
  } else {
    for (let t = 0; t < n; t++) for (let j = 0; j < dim; j++) v[j] += out.data[t * dim + j];
    v = v.map((x) => x / n);
  }
  if (request.normalize) {
    const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0));
    v = v.map((x) => x / Math.max(norm, 1e-12));
  }
  vectors.push(v);
}
process.stdout.write(JSON.stringify({ ids, vectors }));
