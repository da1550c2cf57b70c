using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Bench.Llama;

/// <summary>
/// Prompt and generation tokens/s of the worker's inference service on the small model with 2 threads at 1, 2, 4 and 8
/// concurrent streams, beside node-llama-cpp 3.22.1 running the same prebuilt llama.cpp in the same run.
/// Every configuration runs Reps times and the best run counts (the machine is shared; the best run is the least disturbed).
/// </summary>
public static class LlamaBenchmark
{
    // 2 by default (the issue's setting). On an oversubscribed machine ggml's per-node thread barriers wait for
    // descheduled threads and 2 threads crawl; COCOON_BENCH_THREADS=1 still compares the engines fairly there.
    private static readonly int Threads = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_THREADS"), CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 2;
    private const int MaxTokens = 128;
    private const int Reps = 3;
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends";
    private static readonly int[] StreamCounts = [1, 2, 4, 8];

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        using var data = new TempDir("cocoon-bench");
        var options = new LlamaInferenceOptions
        {
            Model = SharedFiles.SmallModel,
            LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
            Threads = Threads,
            ContextSize = 512,
            MaxConcurrency = 8,
            DataDir = data.Path,
            KvUnified = Environment.GetEnvironmentVariable("COCOON_BENCH_KV_UNIFIED") != "false",
        };
        var rows = new List<Row>();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"stories260K, {Threads} threads, greedy, {MaxTokens} tokens per stream, best of {Reps}"));
        Console.WriteLine(Header);
        using (var service = await LlamaInferenceService.LoadAsync(options, NullLoggerFactory.Instance, TimeProvider.System, null, ct).ConfigureAwait(false))
        {
            await RunStreamsAsync(service, 1, ct).ConfigureAwait(false); // warm-up
            foreach (var streams in StreamCounts)
            {
                var best = (await RepeatAsync(() => RunStreamsAsync(service, streams, ct)).ConfigureAwait(false));
                rows.Add(Show(new Row("cocoon (C# P/Invoke)", streams, best.Prompt, best.Generation, best.Tokens)));
            }
        }

        var nodeDir = Path.Combine(SharedFiles.RepoRoot, "tests", "Cocoon.Bench", "node");
        string? peerNote = null;
        if (!Directory.Exists(Path.Combine(nodeDir, "node_modules", "node-llama-cpp")))
        {
            peerNote = "node-llama-cpp not installed: run ./cocoon bench (it runs npm ci in tests/Cocoon.Bench/node)";
        }
        else
        {
            foreach (var streams in StreamCounts)
            {
                try
                {
                    var best = await RepeatAsync(() => RunNodeAsync(nodeDir, streams, ct)).ConfigureAwait(false);
                    rows.Add(Show(new Row("node-llama-cpp 3.22.1", streams, best.Prompt, best.Generation, best.Tokens)));
                }
                catch (InvalidOperationException ex)
                {
                    peerNote = "node-llama-cpp failed: " + ex.Message;
                    break;
                }
            }
        }

        Print(rows, peerNote);
        var path = await bench.WriteJsonAsync("llama", new
        {
            model = "stories260K",
            threads = Threads,
            maxTokens = MaxTokens,
            reps = Reps,
            machineCores = Environment.ProcessorCount,
            rows,
            ratios = Ratios(rows),
            peerNote,
        }).ConfigureAwait(false);
        Console.WriteLine($"json: {path}");
    }

    private static async Task<Measure> RepeatAsync(Func<Task<Measure>> run)
    {
        Measure? best = null;
        for (var i = 0; i < Reps; i++)
        {
            var m = await run().ConfigureAwait(false);
            best = best is null ? m : new Measure(Math.Max(best.Prompt, m.Prompt), Math.Max(best.Generation, m.Generation), m.Tokens);
        }

        return best!;
    }

    // Aggregate rates: all prompt tokens over the longest prompt phase, all generated tokens over the longest generation
    // phase (the streams run side by side, so the longest phase is the wall time of that phase).
    private static async Task<Measure> RunStreamsAsync(LlamaInferenceService service, int streams, CancellationToken ct)
    {
        var request = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = MaxTokens, Temperature = 0 } };
        var usages = await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            GenerationUsage? usage = null;
            await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
            {
                usage = chunk.Usage ?? usage;
            }

            return usage!;
        }, ct))).ConfigureAwait(false);
        return new Measure(
            usages.Sum(u => u.PromptTokens) / usages.Max(u => u.PromptTime).TotalSeconds,
            usages.Sum(u => u.CompletionTokens) / usages.Max(u => u.GenerationTime).TotalSeconds,
            usages.Sum(u => u.CompletionTokens));
    }

    private static async Task<Measure> RunNodeAsync(string nodeDir, int streams, CancellationToken ct)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = nodeDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "bench.mjs", SharedFiles.SmallModel, Threads.ToString(CultureInfo.InvariantCulture), Prompt, MaxTokens.ToString(CultureInfo.InvariantCulture), streams.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start node");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"exit {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        using var json = JsonDocument.Parse(await stdout.ConfigureAwait(false));
        var results = json.RootElement.GetProperty("results").EnumerateArray().ToList();

        // node measures the first token as part of the prompt phase, so the generation phase holds generated - 1 tokens.
        return new Measure(
            results.Sum(r => r.GetProperty("promptTokens").GetInt32()) / (results.Max(r => r.GetProperty("promptMs").GetDouble()) / 1000),
            results.Sum(r => r.GetProperty("generated").GetInt32() - 1) / (results.Max(r => r.GetProperty("generationMs").GetDouble()) / 1000),
            results.Sum(r => r.GetProperty("generated").GetInt32()));
    }

    private static Dictionary<string, double> Ratios(List<Row> rows)
    {
        var ratios = new Dictionary<string, double>();
        var one = rows.FirstOrDefault(r => r.Engine.StartsWith("cocoon", StringComparison.Ordinal) && r.Streams == 1);
        var eight = rows.FirstOrDefault(r => r.Engine.StartsWith("cocoon", StringComparison.Ordinal) && r.Streams == 8);
        var peerOne = rows.FirstOrDefault(r => r.Engine.StartsWith("node", StringComparison.Ordinal) && r.Streams == 1);
        var peerEight = rows.FirstOrDefault(r => r.Engine.StartsWith("node", StringComparison.Ordinal) && r.Streams == 8);
        if (one is not null && eight is not null)
        {
            ratios["cocoon 8 streams / 1 stream (generation)"] = eight.GenerationTokPerSec / one.GenerationTokPerSec;
        }

        if (one is not null && peerOne is not null)
        {
            ratios["cocoon / node-llama-cpp, 1 stream (generation)"] = one.GenerationTokPerSec / peerOne.GenerationTokPerSec;
            ratios["cocoon / node-llama-cpp, 1 stream (prompt)"] = one.PromptTokPerSec / peerOne.PromptTokPerSec;
        }

        if (eight is not null && peerEight is not null)
        {
            ratios["cocoon / node-llama-cpp, 8 streams (generation)"] = eight.GenerationTokPerSec / peerEight.GenerationTokPerSec;
        }

        if (peerOne is not null && peerEight is not null)
        {
            ratios["node-llama-cpp 8 streams / 1 stream (generation)"] = peerEight.GenerationTokPerSec / peerOne.GenerationTokPerSec;
        }

        return ratios;
    }

    private static readonly string Header = $"{"engine",-24} {"streams",7} {"prompt tok/s",13} {"gen tok/s",11} {"tokens",7}";

    private static Row Show(Row r)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Engine,-24} {r.Streams,7} {r.PromptTokPerSec,13:F1} {r.GenerationTokPerSec,11:F1} {r.GeneratedTokens,7}"));
        return r;
    }

    private static void Print(List<Row> rows, string? peerNote)
    {
        foreach (var (name, value) in Ratios(rows))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value:F2}x"));
        }

        if (peerNote is not null)
        {
            Console.WriteLine("peer: " + peerNote);
        }
    }

    private sealed record Measure(double Prompt, double Generation, int Tokens);

    private sealed record Row(string Engine, int Streams, double PromptTokPerSec, double GenerationTokPerSec, int GeneratedTokens);
}
