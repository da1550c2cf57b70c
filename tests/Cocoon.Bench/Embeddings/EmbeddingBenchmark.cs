using System.Diagnostics;
using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Testing.Onnx;
using Cocoon.Worker.Embeddings;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bench.Embeddings;

/// <summary>
/// `./cocoon bench embeddings`: inputs/s and tokens/s of embeddings through the gateway's dispatch path (hold, match,
/// lease, HPKE seal, Redis, the worker's queue and ONNX Runtime, sealed answer, receipt check, settle) against calling
/// ONNX Runtime directly (tokenize, one session.Run of the padded batch, pool) in the same run, on the same synthetic
/// model file, at batch 1 and 32. Requests are sent one after another on both sides. The gateway side is measured at
/// the dispatcher, as the dispatch benchmark is: HTTP and the response's JSON are not in it.
/// </summary>
public static class EmbeddingBenchmark
{
    /// <summary>Wider than the test model and with feed-forward blocks, so ONNX Runtime has real work (~2.4M parameters).</summary>
    private const int Dimensions = 384;
    private const int Blocks = 2;
    private const int Rounds = 5;

    private static readonly string[] Sentences =
    [
        "how to cache embeddings for a knowledge base",
        "the cat sat on the mat once upon a time",
        "private network search query on telegram with ton",
        "hello world, what is a vector model?",
    ];

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-bench-embed");
        var model = SyntheticOnnxEmbedding.Write(Path.Combine(data.Path, "synthetic-embed-384"), Dimensions, Blocks);
        await using var network = await BenchNetwork.StartAsync(redis, "e:", data.Path, new Dictionary<string, string?>
        {
            ["Embeddings:Model"] = model,
            ["Embeddings:MaxTokens"] = "128",
            ["Embeddings:MaxBatch"] = "32",
        }, (services, configuration) => services.AddOnnxEmbeddings(configuration), worker => worker.GetRequiredService<IEmbeddingService>().Model.Name, ct).ConfigureAwait(false);
        var (payer, dispatcher, modelName) = (network.Payer, network.Dispatcher, network.Model);
        var options = network.Worker.Services.GetRequiredService<EmbeddingOptions>();

        // The direct side: its own session on the same file, as an application would call ONNX Runtime.
        using var direct = new OnnxEmbeddingService(options, Microsoft.Extensions.Logging.Abstractions.NullLogger<OnnxEmbeddingService>.Instance);
        await direct.StartAsync(ct).ConfigureAwait(false);
        var tokenizer = new EmbeddingTokenizer(options);

        var rows = new List<Row>();
        foreach (var batch in new[] { 1, 32 })
        {
            var inputs = Enumerable.Range(0, batch).Select(i => new EmbeddingInput { Text = Sentences[i % Sentences.Length] + " " + i.ToString(CultureInfo.InvariantCulture) }).ToList();
            var requests = batch == 1 ? 200 : 20;

            Task Direct()
            {
                var ids = inputs.Select((x, i) => tokenizer.Encode(x, i, truncate: false, out _)).ToList();
                _ = direct.Run(ids);
                return Task.CompletedTask;
            }

            async Task Gateway()
            {
                var request = new DispatchRequest { RequestId = Guid.NewGuid().ToString("N"), Payer = payer, Model = modelName, Embedding = new EmbeddingRequest { Inputs = inputs } };
                await foreach (var _ in dispatcher.DispatchAsync(request, ct).ConfigureAwait(false))
                {
                }
            }

            var tokens = inputs.Sum(x => tokenizer.Encode(x, 0, truncate: false, out _).Length);
            await TimeAsync(Direct, requests / 4).ConfigureAwait(false); // warm-up
            await TimeAsync(Gateway, requests / 4).ConfigureAwait(false);
            // Alternating rounds: on a machine whose load swings, both sides see the same swings.
            double directSeconds = 0, gatewaySeconds = 0;
            for (var round = 0; round < Rounds; round++)
            {
                directSeconds += await TimeAsync(Direct, requests / Rounds).ConfigureAwait(false);
                gatewaySeconds += await TimeAsync(Gateway, requests / Rounds).ConfigureAwait(false);
            }

            rows.Add(new Row(batch, requests, tokens, requests * batch / directSeconds, requests * tokens / directSeconds, requests * batch / gatewaySeconds, requests * tokens / gatewaySeconds));
        }

        await direct.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await network.StopAsync().ConfigureAwait(false);

        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"load average: {load} on {Environment.ProcessorCount} cores (the ratio is what compares; absolute numbers move with the load)");
        Console.WriteLine($"embeddings, synthetic ONNX model ({Dimensions} dims, {Blocks} feed-forward blocks), requests one after another");
        Console.WriteLine($"  {"batch",-7}{"direct in/s",14}{"direct tok/s",14}{"gateway in/s",14}{"gateway tok/s",15}{"ratio",8}");
        foreach (var r in rows)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {r.Batch,-7}{r.DirectInputsPerSecond,14:F1}{r.DirectTokensPerSecond,14:F0}{r.GatewayInputsPerSecond,14:F1}{r.GatewayTokensPerSecond,15:F0}{r.Ratio,8:F2}"));
        }

        Console.WriteLine("  (goal: ratio >= 0.8 at batch 32)");
        var path = await bench.WriteJsonAsync("embeddings", new { loadAverage = load, cores = Environment.ProcessorCount, Dimensions, Blocks, rows }).ConfigureAwait(false);
        Console.WriteLine($"  written {path}");
    }

    private static async Task<double> TimeAsync(Func<Task> action, int count)
    {
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < count; i++)
        {
            await action().ConfigureAwait(false);
        }

        return watch.Elapsed.TotalSeconds;
    }

    private sealed record Row(int Batch, int Requests, int TokensPerRequest, double DirectInputsPerSecond, double DirectTokensPerSecond, double GatewayInputsPerSecond, double GatewayTokensPerSecond)
    {
        public double Ratio => GatewayInputsPerSecond / DirectInputsPerSecond;
    }
}
