using Cocoon.Bench;
using Cocoon.Bench.Llama;

// `./cocoon bench [NAME...]`: one line per benchmark; no name runs them all.
if (args is [Cocoon.Bench.Ledger.SettlementBenchmark.GatewayCommand, ..])
{
    // One of the two gateway processes of the ledger benchmark's PostgreSQL run.
    return await Cocoon.Bench.Ledger.SettlementBenchmark.RunGatewayAsync(args[1..]);
}

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
    ["llama-defaults"] = DefaultsBenchmark.RunAsync,
    ["llama-seeded"] = SeededBatchBenchmark.RunAsync,
    ["chat"] = Cocoon.Bench.Chat.ChatBenchmark.RunAsync,
    ["serve"] = Cocoon.Bench.Chat.ServeBenchmark.RunAsync,
    ["dispatch"] = Cocoon.Bench.Dispatch.DispatchBenchmark.RunAsync,
    ["ttft"] = Cocoon.Bench.Dispatch.DispatchBenchmark.RunTtftAsync,
    ["embeddings"] = Cocoon.Bench.Embeddings.EmbeddingBenchmark.RunAsync,
    ["market"] = Cocoon.Bench.Market.MarketBenchmark.RunAsync,
    ["receipts"] = Cocoon.Bench.Receipts.ReceiptBenchmark.RunAsync,
    ["spotcheck"] = Cocoon.Bench.SpotChecks.SpotCheckBenchmark.RunAsync,
};
return await BenchRunner.RunAsync(benchmarks, args);
