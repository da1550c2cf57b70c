using Cocoon.Bench;
using Cocoon.Bench.Llama;

// `./cocoon bench [NAME...]`: one line per benchmark; no name runs them all.
var benchmarks = new SortedDictionary<string, Func<BenchContext, Task>>(StringComparer.Ordinal)
{
    ["ledger"] = Cocoon.Bench.Ledger.SettlementBenchmark.RunAsync,
    ["llama"] = LlamaBenchmark.RunAsync,
    ["llama-q8"] = LlamaBenchmark.RunLargeAsync,
    ["llama-seeded"] = SeededBatchBenchmark.RunAsync,
    ["dispatch"] = Cocoon.Bench.Dispatch.DispatchBenchmark.RunAsync,
    ["embeddings"] = Cocoon.Bench.Embeddings.EmbeddingBenchmark.RunAsync,
    ["market"] = Cocoon.Bench.Market.MarketBenchmark.RunAsync,
    ["receipts"] = Cocoon.Bench.Receipts.ReceiptBenchmark.RunAsync,
};
return await BenchRunner.RunAsync(benchmarks, args);
