using Cocoon.Bench;
using Cocoon.Bench.Llama;

// `./cocoon bench [NAME...]`: one line per benchmark; no name runs them all.
if (args.Length > 0 && args[0] == LlamaSharpPeer.Flag)
{
    // The LLamaSharp peer of `bench llama`, in a child process of its own (LlamaSharpPeer).
    return await LlamaSharpPeer.MainAsync(args[1..]);
}

var benchmarks = new SortedDictionary<string, Func<BenchContext, Task>>(StringComparer.Ordinal)
{
    ["ledger"] = Cocoon.Bench.Ledger.SettlementBenchmark.RunAsync,
    ["llama"] = LlamaBenchmark.RunAsync,
    ["llama-q8"] = LlamaBenchmark.RunLargeAsync,
    ["chat"] = Cocoon.Bench.Chat.ChatBenchmark.RunAsync,
    ["serve"] = Cocoon.Bench.Chat.ServeBenchmark.RunAsync,
    ["dispatch"] = Cocoon.Bench.Dispatch.DispatchBenchmark.RunAsync,
    ["embeddings"] = Cocoon.Bench.Embeddings.EmbeddingBenchmark.RunAsync,
    ["market"] = Cocoon.Bench.Market.MarketBenchmark.RunAsync,
    ["receipts"] = Cocoon.Bench.Receipts.ReceiptBenchmark.RunAsync,
};
return await BenchRunner.RunAsync(benchmarks, args);
