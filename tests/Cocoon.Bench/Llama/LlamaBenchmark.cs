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
/// concurrent streams, beside three peers that run the same prebuilt llama.cpp libraries in the same run:
/// llama.cpp's own llama-bench (single stream: generation at the same context depth as ours, after the same prompt
/// length) and llama-batched-bench (1..8 parallel sequences), both built by ./cocoon from the libraries' exact source,
/// node-llama-cpp 3.22.1, and LLamaSharp 0.30.0 (its own llama.cpp build; StatelessExecutor for 1 stream, BatchedExecutor
/// for 8). Every configuration runs Reps times and the best run counts (the machine is shared; the
/// best run is the least disturbed); llama-bench, llama-batched-bench (8) and LLamaSharp also run in alternating pairs
/// with ours, whose per-pair ratios (median and range) are the same-run comparison. Generation rates count decode steps after the first token, as llama.cpp does.
/// </summary>
public static class LlamaBenchmark
{
    // 2 by default (the issue's setting). On an oversubscribed machine ggml's per-node thread barriers wait for
    // descheduled threads and 2 threads crawl; COCOON_BENCH_THREADS=1 still compares the engines fairly there.
    internal static readonly int Threads = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_THREADS"), CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 2;
    private const int ContextPerSequence = 256;
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends";
    private static readonly int[] StreamCounts = [1, 2, 4, 8];

    /// <summary>The small model: per-step overhead dominates, so this compares the engines' own costs.</summary>
    public static Task RunAsync(BenchContext bench) =>
        RunAsync(bench, new Setup("llama", "stories260K", SharedFiles.SmallModel, MaxTokens: 128, Reps: 3, PairReps: 15, Node: true));

    /// <summary>
    /// A model of real size (~315M parameters, Q8_0, random weights, written once under COCOON_DATA/bench/models):
    /// weight reads bound a step, so batching streams pays off as it does on the models providers serve.
    /// </summary>
    public static async Task RunLargeAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var (model, label) = await EnsureLargeModelAsync(bench).ConfigureAwait(false);
        await RunAsync(bench, new Setup("llama-q8", label, model, MaxTokens: 32, Reps: 2, PairReps: 3, Node: false)).ConfigureAwait(false);
    }

    /// <summary>The synthetic ~315M Q8_0 model of `bench llama-q8` (also `bench chat` and `bench serve`), written once.</summary>
    internal static async Task<(string Path, string Label)> EnsureLargeModelAsync(BenchContext bench)
    {
        var shape = SyntheticGguf.Shape.Default;
        var model = await SyntheticGguf.EnsureAsync(Path.Combine(bench.OutputDir, "models", "synthetic-315M-q8_0.gguf"), SharedFiles.SmallModel, shape, bench.CancellationToken).ConfigureAwait(false);
        return (model, string.Create(CultureInfo.InvariantCulture, $"synthetic llama {shape.Parameters(512) / 1e6:F0}M Q8_0"));
    }

    private sealed record Setup(string Name, string Label, string Model, int MaxTokens, int Reps, int PairReps, bool Node);

    private static async Task RunAsync(BenchContext bench, Setup setup)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var (maxTokens, reps) = (setup.MaxTokens, setup.Reps);
        using var data = new TempDir("cocoon-bench");
        var options = new LlamaInferenceOptions
        {
            Model = setup.Model,
            LibraryDir = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR"),
            Threads = Threads,
            // 256 cells per sequence, as the peers get: llama-bench sizes its context to prompt + generation + depth
            // (padded to 256) and batched-bench gets -c 8 x 256. Attention runs over the cells in use padded to 256, so
            // on this tiny model the context size is a large share of a step's cost and must match.
            ContextSize = ContextPerSequence,
            MaxConcurrency = 8,
            DataDir = data.Path,
            // The service's default (one KV stream per sequence) unless COCOON_BENCH_KV_UNIFIED=true.
            KvUnified = Environment.GetEnvironmentVariable("COCOON_BENCH_KV_UNIFIED") == "true",
            // The service's default streaming granularity unless COCOON_BENCH_CHUNK_MS says otherwise (0 = every token).
            ChunkIntervalMs = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_CHUNK_MS"), CultureInfo.InvariantCulture, out var chunkMs) ? chunkMs : new LlamaInferenceOptions().ChunkIntervalMs,
        };
        var rows = new List<Row>();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{setup.Label}, {Threads} threads, greedy, {maxTokens} tokens per stream, best of {reps}, chunks every {options.ChunkIntervalMs} ms"));
        Console.WriteLine(Header);
        var notes = new List<string>();
        var tools = Environment.GetEnvironmentVariable("COCOON_LLAMA_TOOLS_DIR") is { Length: > 0 } t && options.LibraryDir is { Length: > 0 } ? t : null;
        if (tools is null)
        {
            notes.Add("llama.cpp tools not built: run ./cocoon bench (it builds llama-bench and llama-batched-bench against the same libraries)");
        }

        var pairRatios = new List<double>();
        var eightPairRatios = new List<double>();
        var sharpOnePairRatios = new List<double>();
        var sharpEightPairRatios = new List<double>();
        var sharpOnePromptRatios = new List<double>();
        var sharpEightPromptRatios = new List<double>();
        using (var service = await LlamaInferenceService.LoadAsync(options, NullLoggerFactory.Instance, TimeProvider.System, null, ct).ConfigureAwait(false))
        {
            // Warm-up long enough for tiered JIT to settle the decode loop (a worker serves for hours).
            for (var i = 0; i < (setup.Node ? 5 : 2); i++)
            {
                await RunStreamsAsync(service, i % 2 == 0 ? 1 : 8, maxTokens, ct).ConfigureAwait(false);
            }

            var promptTokens = (await RunStreamsAsync(service, 1, maxTokens, ct).ConfigureAwait(false)).PromptTokens;
            foreach (var streams in StreamCounts)
            {
                var before = service.Stats;
                var best = await RepeatAsync(reps, () => RunStreamsAsync(service, streams, maxTokens, ct)).ConfigureAwait(false);
                var stats = service.Stats.Since(before);
                rows.Add(Show(new Row(Cocoon, streams, best.Prompt, best.Generation, best.Tokens,
                    stats.Decode / (stats.Decode + stats.Host), reps * (double)best.Tokens / stats.Steps, best.ChunksPerStream)));
            }

            if (tools is not null)
            {
                try
                {
                    // Single stream against llama-bench in alternating pairs, so both see the same moments of a shared machine.
                    Row? ours = null, theirs = null;
                    for (var i = 0; i < setup.PairReps; i++)
                    {
                        var m = await RunStreamsAsync(service, 1, maxTokens, ct).ConfigureAwait(false);
                        var peer = await RunLlamaBenchAsync(setup, tools, options.LibraryDir!, promptTokens, ct).ConfigureAwait(false);
                        pairRatios.Add(m.Generation / peer.GenerationTokPerSec);
                        ours = ours is null ? new Row(CocoonPaired, 1, m.Prompt, m.Generation, m.Tokens) : ours with
                        {
                            PromptTokPerSec = Math.Max(ours.PromptTokPerSec, m.Prompt),
                            GenerationTokPerSec = Math.Max(ours.GenerationTokPerSec, m.Generation),
                        };
                        theirs = theirs is null ? peer : theirs with
                        {
                            PromptTokPerSec = Math.Max(theirs.PromptTokPerSec, peer.PromptTokPerSec),
                            GenerationTokPerSec = Math.Max(theirs.GenerationTokPerSec, peer.GenerationTokPerSec),
                        };
                    }

                    rows.Add(Show(ours!));
                    rows.Add(Show(theirs!));
                    foreach (var row in await RunBatchedBenchAsync(setup, tools, options.LibraryDir!, promptTokens, StreamCounts, setup.Reps, ct).ConfigureAwait(false))
                    {
                        rows.Add(Show(row));
                    }

                    // 8 streams against llama-batched-bench's 8 sequences, in alternating pairs as well.
                    for (var i = 0; i < Math.Max(3, setup.PairReps / 3); i++)
                    {
                        var m = await RunStreamsAsync(service, 8, maxTokens, ct).ConfigureAwait(false);
                        var peer = (await RunBatchedBenchAsync(setup, tools, options.LibraryDir!, promptTokens, [8], 1, ct).ConfigureAwait(false))[0];
                        eightPairRatios.Add(m.Generation / peer.GenerationTokPerSec);
                    }
                }
                catch (InvalidOperationException ex)
                {
                    notes.Add("llama.cpp tools failed: " + ex.Message);
                }
            }

            // LLamaSharp 0.30.0 (its own llama.cpp build, in a child process that loads the model once): its
            // StatelessExecutor against our single stream and its BatchedExecutor against our 8 streams, in alternating
            // pairs as the llama.cpp tools are, same model, threads and context per sequence.
            if (Environment.GetEnvironmentVariable("COCOON_BENCH_LLAMASHARP") == "false")
            {
                notes.Add("LLamaSharp skipped (COCOON_BENCH_LLAMASHARP=false)");
            }
            else
            {
                try
                {
                    using var peer = LlamaSharpPeer.Start(setup.Model, Threads, ContextPerSequence, Prompt, maxTokens);
                    foreach (var (streams, pairs, engine, ratios, promptRatios) in new[]
                    {
                        (1, setup.PairReps, LlamaSharpStateless, sharpOnePairRatios, sharpOnePromptRatios),
                        (8, Math.Max(3, setup.PairReps / 3), LlamaSharpBatched, sharpEightPairRatios, sharpEightPromptRatios),
                    })
                    {
                        // One warm-up run each (its first context and JIT), then the pairs.
                        await peer.MeasureAsync(streams, ct).ConfigureAwait(false);
                        Row? best = null;
                        for (var i = 0; i < pairs; i++)
                        {
                            var m = await RunStreamsAsync(service, streams, maxTokens, ct).ConfigureAwait(false);
                            var (prompt, generation, tokens) = await peer.MeasureAsync(streams, ct).ConfigureAwait(false);
                            ratios.Add(m.Generation / generation);
                            promptRatios.Add(m.Prompt / prompt);
                            best = best is null ? new Row(engine, streams, prompt, generation, tokens) : best with
                            {
                                PromptTokPerSec = Math.Max(best.PromptTokPerSec, prompt),
                                GenerationTokPerSec = Math.Max(best.GenerationTokPerSec, generation),
                            };
                        }

                        rows.Add(Show(best!));
                    }
                }
                catch (InvalidOperationException ex)
                {
                    notes.Add("LLamaSharp failed: " + ex.Message);
                }
            }
        }

        var nodeDir = Path.Combine(SharedFiles.RepoRoot, "tests", "Cocoon.Bench", "node");
        if (!setup.Node)
        {
        }
        else if (Environment.GetEnvironmentVariable("COCOON_BENCH_NODE") == "false")
        {
            notes.Add("node-llama-cpp skipped (COCOON_BENCH_NODE=false)");
        }
        else if (!Directory.Exists(Path.Combine(nodeDir, "node_modules", "node-llama-cpp")))
        {
            notes.Add("node-llama-cpp not installed: run ./cocoon bench (it runs npm ci in tests/Cocoon.Bench/node)");
        }
        else
        {
            foreach (var streams in StreamCounts)
            {
                try
                {
                    var best = await RepeatAsync(reps, () => RunNodeAsync(nodeDir, streams, maxTokens, ct)).ConfigureAwait(false);
                    rows.Add(Show(new Row(Node, streams, best.Prompt, best.Generation, best.Tokens)));
                }
                catch (InvalidOperationException ex)
                {
                    notes.Add("node-llama-cpp failed: " + ex.Message);
                    break;
                }
            }
        }

        PrintRatios(rows);
        PrintPairs("cocoon / llama-bench, 1 stream", pairRatios);
        PrintPairs("cocoon / llama-batched-bench, 8 streams", eightPairRatios);
        PrintPairs("cocoon / LLamaSharp StatelessExecutor, 1 stream", sharpOnePairRatios);
        PrintPairs("cocoon / LLamaSharp BatchedExecutor, 8 streams", sharpEightPairRatios);
        PrintPairs("cocoon / LLamaSharp StatelessExecutor, 1 stream", sharpOnePromptRatios, "prompt; theirs includes creating the context");
        PrintPairs("cocoon / LLamaSharp BatchedExecutor, 8 streams", sharpEightPromptRatios, "prompt");
        foreach (var note in notes)
        {
            Console.WriteLine("note: " + note);
        }

        var path = await bench.WriteJsonAsync(setup.Name, new
        {
            model = setup.Label,
            threads = Threads,
            maxTokens,
            reps,
            machineCores = Environment.ProcessorCount,
            rows,
            ratios = Ratios(rows),
            singleStreamPairRatios = pairRatios,
            eightStreamPairRatios = eightPairRatios,
            llamaSharpStatelessPairRatios = sharpOnePairRatios,
            llamaSharpBatchedPairRatios = sharpEightPairRatios,
            llamaSharpStatelessPromptPairRatios = sharpOnePromptRatios,
            llamaSharpBatchedPromptPairRatios = sharpEightPromptRatios,
            notes,
        }).ConfigureAwait(false);
        Console.WriteLine($"json: {path}");
    }

    private static void PrintPairs(string name, List<double> ratios, string what = "generation")
    {
        if (ratios.Count > 0)
        {
            var sorted = ratios.Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}, {sorted.Count} alternating pairs ({what}): median {sorted[sorted.Count / 2]:F2}x, range {sorted[0]:F2}x..{sorted[^1]:F2}x"));
        }
    }

    private static async Task<Measure> RepeatAsync(int reps, Func<Task<Measure>> run)
    {
        Measure? best = null;
        for (var i = 0; i < reps; i++)
        {
            var m = await run().ConfigureAwait(false);
            best = best is null ? m : new Measure(Math.Max(best.Prompt, m.Prompt), Math.Max(best.Generation, m.Generation), m.Tokens, m.PromptTokens, m.ChunksPerStream);
        }

        return best!;
    }

    // Aggregate rates: all prompt tokens over the longest prompt phase, all generated tokens over the longest generation
    // phase (the streams run side by side, so the longest phase is the wall time of that phase).
    private static async Task<Measure> RunStreamsAsync(LlamaInferenceService service, int streams, int maxTokens, CancellationToken ct)
    {
        var request = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = 0 } };
        var runs = await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => Task.Run(async () =>
        {
            GenerationUsage? usage = null;
            var chunks = 0;
            await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
            {
                usage = chunk.Usage ?? usage;
                chunks += chunk.Text.Length > 0 ? 1 : 0;
            }

            return (Usage: usage!, Chunks: chunks);
        }, ct))).ConfigureAwait(false);
        var usages = runs.Select(r => r.Usage).ToList();
        // The first token of each stream comes out of the prompt step; the generation phase decodes the rest.
        return new Measure(
            usages.Sum(u => u.PromptTokens) / usages.Max(u => u.PromptTime).TotalSeconds,
            usages.Sum(u => u.CompletionTokens - 1) / usages.Max(u => u.GenerationTime).TotalSeconds,
            usages.Sum(u => u.CompletionTokens),
            usages[0].PromptTokens,
            runs.Average(r => r.Chunks));
    }

    private static async Task<Measure> RunNodeAsync(string nodeDir, int streams, int maxTokens, CancellationToken ct)
    {
        var start = new ProcessStartInfo("node") { WorkingDirectory = nodeDir, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "bench.mjs", SharedFiles.SmallModel, Threads.ToString(CultureInfo.InvariantCulture), Prompt, maxTokens.ToString(CultureInfo.InvariantCulture), streams.ToString(CultureInfo.InvariantCulture) })
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
            results.Sum(r => r.GetProperty("generated").GetInt32()),
            results[0].GetProperty("promptTokens").GetInt32());
    }

    // llama-bench: prompt processing of the same number of tokens, and MaxTokens generation steps starting at the depth
    // our generation starts at (the prompt is in the cache). Its persistent threadpool polls at the default level, as ours.
    private static async Task<Row> RunLlamaBenchAsync(Setup setup, string tools, string libraries, int promptTokens, CancellationToken ct)
    {
        var args = new[]
        {
            "-m", setup.Model, "-t", Inv(Threads), "-r", "1", "-o", "json",
            "-p", Inv(promptTokens), "-n", Inv(setup.MaxTokens), "-d", $"0,{Inv(promptTokens)}",
        };
        var (stdout, _) = await RunToolAsync(Path.Combine(tools, "llama-bench"), libraries, args, ct).ConfigureAwait(false);
        using var json = JsonDocument.Parse(stdout);
        double prompt = 0, generation = 0;
        foreach (var test in json.RootElement.EnumerateArray())
        {
            var (p, n, d) = (test.GetProperty("n_prompt").GetInt32(), test.GetProperty("n_gen").GetInt32(), test.GetProperty("n_depth").GetInt32());
            var best = test.GetProperty("samples_ts").EnumerateArray().Max(x => x.GetDouble());
            if (p > 0 && n == 0 && d == 0)
            {
                prompt = best;
            }
            else if (p == 0 && n > 0 && d == promptTokens)
            {
                generation = best;
            }
        }

        return new Row(LlamaBench, 1, prompt, generation, setup.MaxTokens);
    }

    // llama-batched-bench: N sequences, each a prompt of the same length then MaxTokens steps, decoded together. It
    // attaches no threadpool (ggml makes one per decode), so its single stream is slower than llama-bench's.
    private static async Task<List<Row>> RunBatchedBenchAsync(Setup setup, string tools, string libraries, int promptTokens, int[] streamCounts, int reps, CancellationToken ct)
    {
        var best = new Dictionary<int, Row>();
        for (var rep = 0; rep < reps; rep++)
        {
            var args = new[]
            {
                "-m", setup.Model, "-t", Inv(Threads), "-c", Inv(StreamCounts.Max() * ContextPerSequence),
                "-npp", Inv(promptTokens), "-ntg", Inv(setup.MaxTokens), "-npl", string.Join(',', streamCounts), "--output-format", "jsonl",
            };
            // Its result lines go through llama.cpp's asynchronous log, which can lose its last lines at exit (seen: one
            // run in two of `-npl 8` printed nothing); a run that lost one is run again.
            var lines = new List<string>();
            for (var attempt = 0; attempt < 5 && lines.Count < streamCounts.Length; attempt++)
            {
                var (output, _) = await RunToolAsync(Path.Combine(tools, "llama-batched-bench"), libraries, args, ct).ConfigureAwait(false);
                lines = [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Where(l => l.StartsWith('{'))];
            }

            if (lines.Count < streamCounts.Length)
            {
                throw new InvalidOperationException($"llama-batched-bench printed {lines.Count} of {streamCounts.Length} result lines in 5 runs");
            }

            foreach (var line in lines)
            {
                using var json = JsonDocument.Parse(line);
                var r = json.RootElement;
                var row = new Row(BatchedBench, r.GetProperty("pl").GetInt32(), r.GetProperty("speed_pp").GetDouble(), r.GetProperty("speed_tg").GetDouble(),
                    r.GetProperty("pl").GetInt32() * setup.MaxTokens);
                best[row.Streams] = best.TryGetValue(row.Streams, out var b)
                    ? b with { PromptTokPerSec = Math.Max(b.PromptTokPerSec, row.PromptTokPerSec), GenerationTokPerSec = Math.Max(b.GenerationTokPerSec, row.GenerationTokPerSec) }
                    : row;
            }
        }

        return [.. best.Values.OrderBy(r => r.Streams)];
    }

    // The tools load the CPU backend plugins from their working folder, the libraries' folder.
    private static async Task<(string Stdout, string Stderr)> RunToolAsync(string path, string libraries, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(path) { WorkingDirectory = libraries, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + path);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            var error = (await stderr.ConfigureAwait(false)).Trim();
            throw new InvalidOperationException($"{Path.GetFileName(path)} exit {process.ExitCode}: {error[Math.Max(0, error.Length - 500)..]}");
        }

        return (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false));
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);

    private const string Cocoon = "cocoon (C# P/Invoke)";
    private const string CocoonPaired = "cocoon, paired";
    private const string LlamaBench = "llama-bench";
    private const string BatchedBench = "llama-batched-bench";
    private const string Node = "node-llama-cpp 3.22.1";
    private const string LlamaSharpStateless = "LLamaSharp Stateless";
    private const string LlamaSharpBatched = "LLamaSharp Batched";

    private static Dictionary<string, double> Ratios(List<Row> rows)
    {
        var ratios = new Dictionary<string, double>();
        Row? Find(string engine, int streams) => rows.FirstOrDefault(r => r.Engine == engine && r.Streams == streams);
        void Ratio(string name, Row? a, Row? b, Func<Row, double> value)
        {
            if (a is not null && b is not null && value(b) > 0)
            {
                ratios[name] = value(a) / value(b);
            }
        }

        var one = Find(Cocoon, 1);
        Ratio("cocoon 8 streams / 1 stream (generation; goal >= 2)", Find(Cocoon, 8), one, r => r.GenerationTokPerSec);
        Ratio("cocoon / llama-bench, 1 stream, best of pairs (generation; goal >= 0.97)", Find(CocoonPaired, 1), Find(LlamaBench, 1), r => r.GenerationTokPerSec);
        Ratio("cocoon / llama-bench, 1 stream, best of pairs (prompt)", Find(CocoonPaired, 1), Find(LlamaBench, 1), r => r.PromptTokPerSec);
        Ratio("llama.cpp 8 streams (batched-bench) / 1 stream (llama-bench) (generation)", Find(BatchedBench, 8), Find(LlamaBench, 1), r => r.GenerationTokPerSec);
        Ratio("cocoon / llama-batched-bench, 8 streams (generation)", Find(Cocoon, 8), Find(BatchedBench, 8), r => r.GenerationTokPerSec);
        Ratio("llama-batched-bench 8 / 1 (generation)", Find(BatchedBench, 8), Find(BatchedBench, 1), r => r.GenerationTokPerSec);
        Ratio("cocoon / LLamaSharp StatelessExecutor, 1 stream, best of each (generation)", one, Find(LlamaSharpStateless, 1), r => r.GenerationTokPerSec);
        Ratio("cocoon / LLamaSharp StatelessExecutor, 1 stream, best of each (prompt; theirs includes creating the context)", one, Find(LlamaSharpStateless, 1), r => r.PromptTokPerSec);
        Ratio("cocoon / LLamaSharp BatchedExecutor, 8 streams, best of each (generation)", Find(Cocoon, 8), Find(LlamaSharpBatched, 8), r => r.GenerationTokPerSec);
        Ratio("cocoon / LLamaSharp BatchedExecutor, 8 streams, best of each (prompt)", Find(Cocoon, 8), Find(LlamaSharpBatched, 8), r => r.PromptTokPerSec);
        Ratio("cocoon / node-llama-cpp, 1 stream (generation)", one, Find(Node, 1), r => r.GenerationTokPerSec);
        Ratio("cocoon / node-llama-cpp, 8 streams (generation)", Find(Cocoon, 8), Find(Node, 8), r => r.GenerationTokPerSec);
        return ratios;
    }

    private static readonly string Header = $"{"engine",-24} {"streams",7} {"prompt tok/s",13} {"gen tok/s",11} {"tokens",7} {"in llama_decode",16} {"tok/step",9} {"chunks/stream",14}";

    private static Row Show(Row r)
    {
        var share = r.DecodeShare is { } d ? d.ToString("P1", CultureInfo.InvariantCulture) : "";
        var perStep = r.TokensPerStep is { } p ? p.ToString("F2", CultureInfo.InvariantCulture) : "";
        var chunks = r.ChunksPerStream is { } c ? c.ToString("F1", CultureInfo.InvariantCulture) : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{r.Engine,-24} {r.Streams,7} {r.PromptTokPerSec,13:F1} {r.GenerationTokPerSec,11:F1} {r.GeneratedTokens,7} {share,16} {perStep,9} {chunks,14}"));
        return r;
    }

    private static void PrintRatios(List<Row> rows)
    {
        foreach (var (name, value) in Ratios(rows))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}: {value:F2}x"));
        }
    }

    private sealed record Measure(double Prompt, double Generation, int Tokens, int PromptTokens, double ChunksPerStream = 0);

    /// <param name="DecodeShare">Of the decode thread's busy time, the part inside llama_decode (cocoon rows only).</param>
    /// <param name="TokensPerStep">Generated tokens per llama_decode call (cocoon rows only): how well the streams shared steps.</param>
    private sealed record Row(string Engine, int Streams, double PromptTokPerSec, double GenerationTokPerSec, int GeneratedTokens, double? DecodeShare = null, double? TokensPerStep = null, double? ChunksPerStream = null);
}
