using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Cocoon.Bench.Llama;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bench.Chat;

/// <summary>
/// `./cocoon bench serve`: what privacy and billing cost against what a user would run instead. The whole gateway
/// (ledger hold, match, lease, HPKE-sealed job through Redis, the worker's llama.cpp inference, sealed chunks back,
/// signed receipt checked, settled) against llama-server (llama.cpp's own OpenAI-compatible server, built from the same
/// source against the same libraries) called directly, same ~315M model, same threads, same slots and context per
/// slot, in the same run, at 1 and 8 concurrent streams: aggregate generated tokens/s and time to first token.
/// Rounds alternate between the two so both see the same moments of a shared machine. The gateway side is measured at
/// the dispatcher (the OpenAI API's HTTP layer is not in it); llama-server is called over loopback HTTP with
/// streaming, its usual interface. Neither side reuses a cached prompt (no conversation; cache_prompt false).
/// </summary>
public static class ServeBenchmark
{
    private const int MaxTokens = 32;
    private const int ContextPerSlot = 256;
    private const int Slots = 8;
    private const int Rounds = 3;
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends";

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var serverPath = LlamaServer.Find(out var missing);
        if (serverPath is null)
        {
            Console.WriteLine("note: " + missing);
            return;
        }

        var (model, label) = await LlamaBenchmark.EnsureLargeModelAsync(bench).ConfigureAwait(false);
        var threads = LlamaBenchmark.Threads;
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-bench-serve");
        await using var network = await BenchNetwork.StartAsync(redis, "s:", data.Path, new Dictionary<string, string?>
        {
            ["Worker:Model"] = model,
            ["Worker:MaxConcurrency"] = Slots.ToString(CultureInfo.InvariantCulture),
            ["Llama:MaxConcurrency"] = Slots.ToString(CultureInfo.InvariantCulture),
            ["Llama:ContextSize"] = ContextPerSlot.ToString(CultureInfo.InvariantCulture),
            ["Llama:Threads"] = threads.ToString(CultureInfo.InvariantCulture),
        }, (services, configuration) => services.AddLlamaInference(configuration), worker => worker.GetRequiredService<IInferenceService>().Model.Name, ct).ConfigureAwait(false);
        var (payer, dispatcher, modelName) = (network.Payer, network.Dispatcher, network.Model);
        using var server = await LlamaServer.StartAsync(serverPath, model, threads, Slots, ContextPerSlot, ct).ConfigureAwait(false);

        async Task<Sample> Gateway()
        {
            var request = new DispatchRequest
            {
                RequestId = Guid.NewGuid().ToString("N"),
                Payer = payer,
                Model = modelName,
                Generation = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = MaxTokens, Temperature = 0 } },
                // A loaded machine can take minutes for 8 streams; the bench measures speed, not the deadline.
                Timeout = TimeSpan.FromMinutes(15),
            };
            var watch = Stopwatch.StartNew();
            double first = -1;
            var tokens = 0;
            await foreach (var e in dispatcher.DispatchAsync(request, ct).ConfigureAwait(false))
            {
                if (first < 0 && e is DispatchPiece { Text.Length: > 0 })
                {
                    first = watch.Elapsed.TotalMilliseconds;
                }
                else if (e is DispatchCompleted done)
                {
                    tokens = done.Receipt.CompletionTokens;
                }
            }

            return new Sample(first, tokens);
        }

        async Task<Sample> Direct()
        {
            var c = await server.CompleteAsync(Prompt, MaxTokens, cachePrompt: false, ct).ConfigureAwait(false);
            return new Sample(c.FirstTokenMs, c.Generated);
        }

        var rows = new List<Row>();
        foreach (var streams in new[] { 1, 8 })
        {
            var perStream = streams == 1 ? 3 : 2;
            // Warm-up at this concurrency on both sides (the JIT, the thread pool, llama-server's slots).
            await RoundAsync(Gateway, streams, 1).ConfigureAwait(false);
            await RoundAsync(Direct, streams, 1).ConfigureAwait(false);
            var (gatewayRounds, directRounds) = (new List<Round>(), new List<Round>());
            for (var round = 0; round < Rounds; round++)
            {
                gatewayRounds.Add(await RoundAsync(Gateway, streams, perStream).ConfigureAwait(false));
                directRounds.Add(await RoundAsync(Direct, streams, perStream).ConfigureAwait(false));
            }

            Console.WriteLine($"  {streams} stream(s) measured");
            rows.Add(new Row(streams, Summary.Of(gatewayRounds), Summary.Of(directRounds),
                [.. gatewayRounds.Zip(directRounds, (g, d) => g.TokensPerSecond / d.TokensPerSecond)]));
        }

        await network.StopAsync().ConfigureAwait(false);

        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"load average: {load} on {Environment.ProcessorCount} cores (ratios from the same run are what compare)");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{label}, {threads} threads, {Slots} slots x {ContextPerSlot} context on both sides, {MaxTokens} tokens per request, greedy, {Rounds} alternating rounds"));
        Console.WriteLine($"  {"streams",-8}{"side",-30}{"agg tok/s",10}{"TTFT p50 ms",13}{"TTFT p90 ms",13}{"requests",9}");
        foreach (var r in rows)
        {
            foreach (var (name, s) in new[] { ("gateway (sealed, Redis, ledger)", r.Gateway), ("llama-server direct (HTTP)", r.Direct) })
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {r.Streams,-8}{name,-30}{s.TokensPerSecond,10:F1}{s.TtftP50,13:F1}{s.TtftP90,13:F1}{s.Requests,9}"));
            }
        }

        foreach (var r in rows)
        {
            var ratio = r.Gateway.TokensPerSecond / r.Direct.TokensPerSecond;
            // The goal is a cost: the gateway may add at most 2 ms to llama-server's time to first token. Earlier is not a miss.
            var diff = r.Gateway.TtftP50 - r.Direct.TtftP50;
            var pairs = r.PairRatios.Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Streams} stream(s): gateway / llama-server aggregate tok/s {ratio:F2}x (goal >= 0.9: {(ratio >= 0.9 ? "met" : "not met")}; per round {string.Join(", ", pairs.Select(p => p.ToString("F2", CultureInfo.InvariantCulture)))}); TTFT p50 gateway minus llama-server {diff:+0.0;-0.0} ms (goal at most 2 ms later: {(diff <= 2 ? "met" : "not met")})"));
        }

        var path = await bench.WriteJsonAsync("serve", new { model = label, threads, loadAverage = load, MaxTokens, Slots, ContextPerSlot, Rounds, rows }).ConfigureAwait(false);
        Console.WriteLine($"json: {path}");
    }

    // `streams` concurrent callers, each making `perStream` requests one after another; aggregate = all generated
    // tokens over the round's wall time.
    private static async Task<Round> RoundAsync(Func<Task<Sample>> call, int streams, int perStream)
    {
        var samples = new ConcurrentBag<Sample>();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            for (var i = 0; i < perStream; i++)
            {
                samples.Add(await call().ConfigureAwait(false));
            }
        }))).ConfigureAwait(false);
        var seconds = watch.Elapsed.TotalSeconds;
        return new Round([.. samples], seconds);
    }

    private sealed record Sample(double FirstTokenMs, int Tokens);

    private sealed record Round(List<Sample> Samples, double Seconds)
    {
        public double TokensPerSecond => Samples.Sum(s => s.Tokens) / Seconds;
    }

    private sealed record Summary(double TokensPerSecond, double TtftP50, double TtftP90, int Requests)
    {
        public static Summary Of(List<Round> rounds)
        {
            var ttft = rounds.SelectMany(r => r.Samples).Select(s => s.FirstTokenMs).Order().ToList();
            return new Summary(
                rounds.Sum(r => r.Samples.Sum(s => s.Tokens)) / rounds.Sum(r => r.Seconds),
                ttft[ttft.Count / 2],
                ttft[Math.Min(ttft.Count - 1, (int)(ttft.Count * 0.9))],
                ttft.Count);
        }
    }

    private sealed record Row(int Streams, Summary Gateway, Summary Direct, List<double> PairRatios);
}
