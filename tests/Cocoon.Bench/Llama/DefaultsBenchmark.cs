using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Cocoon.Engine.Protocol;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace Cocoon.Bench.Llama;

/// <summary>
/// What users run, against llama.cpp's own llama-bench in the same run: `generate` (the CLI, a fresh process per
/// answer, on its default settings) and a worker's inference service on the worker's default settings (its
/// appsettings.json: 2048 tokens per sequence, 8 sequences, one unified KV cache), one greedy stream of 128 tokens on
/// the small model at 2 threads, beside llama-bench generating 128 tokens at depth 0. The three run in alternating
/// rounds so they see the same moments of a shared machine; the ratios are medians of those rounds.
/// COCOON_BENCH_FACTORS=true adds one service per setting that differs from the peer (each alone on top of the bench's
/// own settings), so each factor's cost shows as its own ratio.
/// </summary>
public static partial class DefaultsBenchmark
{
    private const int MaxTokens = 128;
    private static readonly int Rounds = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_ROUNDS"), CultureInfo.InvariantCulture, out var r) && r > 0 ? r : 9;
    // A short prompt: generation starts near depth 0, where the issue compared generate with llama-bench.
    private const string Prompt = "Once upon a time";

    private static readonly int Threads = int.TryParse(Environment.GetEnvironmentVariable("COCOON_BENCH_THREADS"), CultureInfo.InvariantCulture, out var t) && t > 0 ? t : 2;

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        var libraries = Environment.GetEnvironmentVariable("COCOON_LLAMA_LIB_DIR");
        var tools = Environment.GetEnvironmentVariable("COCOON_LLAMA_TOOLS_DIR");
        if (string.IsNullOrEmpty(libraries) || string.IsNullOrEmpty(tools))
        {
            Console.WriteLine("note: llama.cpp libraries or tools missing: run ./cocoon bench llama-defaults (it builds llama-bench against the same libraries)");
            return;
        }

        var configuration = Environment.GetEnvironmentVariable("COCOON_CONFIGURATION") is { Length: > 0 } c ? c : "Release";
        var workerDir = Path.Combine(SharedFiles.RepoRoot, "Cocoon.Worker", "bin", configuration, "net10.0");
        var generate = Path.Combine(workerDir, "Cocoon.Worker");
        using var data = new TempDir("cocoon-bench-defaults");
        var defaults = WorkerDefaults(workerDir, libraries, data.Path);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stories260K, {Threads} threads, greedy, {MaxTokens} tokens, {Rounds} alternating rounds; llama-bench -p 0 -n {MaxTokens} -d (our prompt tokens)"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"worker defaults: ContextSize {defaults.ContextSize}, MaxConcurrency {defaults.MaxConcurrency}, BatchSize {defaults.BatchSize}, KvUnified {defaults.KvUnified}, ThreadPoll {defaults.ThreadPoll}"));

        var variants = new List<(string Name, LlamaInferenceOptions Options)> { ("worker, default settings", defaults) };
        if (Environment.GetEnvironmentVariable("COCOON_BENCH_FACTORS") == "true")
        {
            // One change at a time away from the worker's defaults, then the bench llama's own settings.
            variants.Add(("  KvUnified true (before 2026-11-30)", defaults with { KvUnified = true }));
            variants.Add(("  ContextSize 256", defaults with { ContextSize = 256 }));
            variants.Add(("  MaxConcurrency 1 (generate's)", defaults with { MaxConcurrency = 1 }));
            variants.Add(("  MaxConcurrency 1, ContextSize 256", defaults with { MaxConcurrency = 1, ContextSize = 256 }));
            variants.Add(("  ChunkIntervalMs 0", defaults with { ChunkIntervalMs = 0 }));
            variants.Add(("bench llama's settings", defaults with { ContextSize = 256, MaxConcurrency = 8, KvUnified = false }));
        }

        var services = new List<LlamaInferenceService>();
        try
        {
            foreach (var (_, options) in variants)
            {
                var service = await LlamaInferenceService.LoadAsync(options, NullLoggerFactory.Instance, TimeProvider.System, null, ct).ConfigureAwait(false);
                services.Add(service);
                // A worker serves for hours: let tiered JIT settle the decode loop first.
                for (var i = 0; i < 5; i++)
                {
                    await ServiceRateAsync(service, ct).ConfigureAwait(false);
                }
            }

            // llama-bench generates at the depth ours starts at (the prompt is in the cache), in a context of its own size.
            var depth = await PromptTokensAsync(services[0], ct).ConfigureAwait(false);
            var peer = new List<double>();
            var cli = new List<double>();
            var ours = variants.Select(_ => new List<double>()).ToList();
            var cliRatios = new List<double>();
            // CPU per generated token of each process (its CPU with 128 tokens minus with 1, over 127 steps): what a shared
            // machine's load does not change, unlike wall-clock rates.
            var cliCpu = new List<double>();
            var peerCpu = new List<double>();
            var ratios = variants.Select(_ => new List<double>()).ToList();
            for (var round = 0; round < Rounds; round++)
            {
                var (g, gCpu) = await GenerateAsync(generate, libraries, MaxTokens, ct).ConfigureAwait(false);
                var (p, pCpu) = await LlamaBenchAsync(tools, libraries, depth, MaxTokens, ct).ConfigureAwait(false);
                var (_, gCpu1) = await GenerateAsync(generate, libraries, 1, ct).ConfigureAwait(false);
                var (_, pCpu1) = await LlamaBenchAsync(tools, libraries, depth, 1, ct).ConfigureAwait(false);
                cliCpu.Add((gCpu - gCpu1) * 1e6 / (MaxTokens - 1));
                peerCpu.Add((pCpu - pCpu1) * 1e6 / (MaxTokens - 1));
                cli.Add(g);
                peer.Add(p);
                cliRatios.Add(g / p);
                for (var v = 0; v < services.Count; v++)
                {
                    var s = await ServiceRateAsync(services[v], ct).ConfigureAwait(false);
                    ours[v].Add(s);
                    ratios[v].Add(s / p);
                }
            }

            Console.WriteLine($"{"engine",-34} {"gen tok/s (median)",19} {"/ llama-bench (median of rounds)",33} {"range",14}");
            Show($"llama-bench (tg{MaxTokens} @ d{depth})", peer, null);
            Show("generate (CLI, defaults)", cli, cliRatios);
            for (var v = 0; v < variants.Count; v++)
            {
                Show(variants[v].Name, ours[v], ratios[v]);
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"CPU per generated token (whole process, 128-token run minus 1-token run, median of rounds): llama-bench {Median(peerCpu):F0} us, generate {Median(cliCpu):F0} us = {Median(peerCpu) / Median(cliCpu):F2}x llama-bench's speed"));

            var path = await bench.WriteJsonAsync("llama-defaults", new
            {
                threads = Threads,
                maxTokens = MaxTokens,
                rounds = Rounds,
                workerDefaults = new { defaults.ContextSize, defaults.MaxConcurrency, defaults.BatchSize, defaults.KvUnified, defaults.ThreadPoll, defaults.ChunkIntervalMs },
                llamaBench = peer,
                generate = new { rates = cli, ratios = cliRatios, medianRatio = Median(cliRatios), cpuMicrosPerToken = cliCpu, llamaBenchCpuMicrosPerToken = peerCpu },
                services = variants.Select((v, i) => new { name = v.Name.Trim(), rates = ours[i], ratios = ratios[i], medianRatio = Median(ratios[i]) }),
                loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
            }).ConfigureAwait(false);
            Console.WriteLine($"json: {path}");
        }
        finally
        {
            foreach (var s in services)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>The worker's settings as `./cocoon worker` reads them (its appsettings.json), on this bench's threads and model.</summary>
    private static LlamaInferenceOptions WorkerDefaults(string workerDir, string libraries, string dataDir)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(workerDir, "appsettings.json"), optional: false)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Worker:Model"] = SharedFiles.SmallModel,
                ["Llama:LibraryDir"] = libraries,
                ["Llama:Threads"] = Threads.ToString(CultureInfo.InvariantCulture),
                ["Cocoon:DataDir"] = dataDir,
            })
            .Build();
        return LlamaInferenceOptions.FromConfiguration(configuration);
    }

    private static void Show(string name, List<double> rates, List<double>? ratios)
    {
        var ratio = ratios is null ? "" : $"{Median(ratios):F2}x";
        var range = ratios is null ? "" : $"{ratios.Min():F2}..{ratios.Max():F2}";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-34} {Median(rates),19:F0} {ratio,33} {range,14}"));
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }

    private static async Task<int> PromptTokensAsync(LlamaInferenceService service, CancellationToken ct)
    {
        var request = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = 1, Temperature = 0 } };
        var tokens = 0;
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            tokens = chunk.Usage?.PromptTokens ?? tokens;
        }

        return tokens;
    }

    /// <summary>Generation steps per second after the first token, as llama-bench counts them (128 tokens = 127 steps).</summary>
    private static async Task<double> ServiceRateAsync(LlamaInferenceService service, CancellationToken ct)
    {
        var request = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = MaxTokens, Temperature = 0 } };
        GenerationUsage? usage = null;
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            usage = chunk.Usage ?? usage;
        }

        return (usage!.CompletionTokens - 1) / usage.GenerationTime.TotalSeconds;
    }

    /// <summary>
    /// `Cocoon.Worker generate` as `./cocoon generate` runs it: its generation rate (the stats line counts all tokens, so
    /// 127 of 128 are steps) and the process's CPU seconds.
    /// </summary>
    private static async Task<(double Rate, double Cpu)> GenerateAsync(string program, string libraries, int maxTokens, CancellationToken ct)
    {
        var (_, stderr, cpu) = await RunAsync(program, Environment.CurrentDirectory, libraries,
            ["generate", "--prompt", Prompt, "--model", SharedFiles.SmallModel, "--max-tokens", Inv(maxTokens), "--temperature", "0", "--threads", Inv(Threads)], ct).ConfigureAwait(false);
        var match = StatsLine().Match(stderr);
        if (!match.Success)
        {
            throw new InvalidOperationException("generate printed no stats line: " + stderr.Trim());
        }

        var tokens = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var rate = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        return (tokens > 1 ? rate * (tokens - 1) / tokens : 0, cpu);
    }

    private static async Task<(double Rate, double Cpu)> LlamaBenchAsync(string tools, string libraries, int depth, int tokens, CancellationToken ct)
    {
        var (stdout, _, cpu) = await RunAsync(Path.Combine(tools, "llama-bench"), libraries, libraries,
            ["-m", SharedFiles.SmallModel, "-t", Inv(Threads), "-r", "1", "-o", "json", "-p", "0", "-n", Inv(tokens), "-d", Inv(depth)], ct).ConfigureAwait(false);
        using var json = JsonDocument.Parse(stdout);
        return (json.RootElement.EnumerateArray().Single().GetProperty("avg_ts").GetDouble(), cpu);
    }

    // llama-bench loads the CPU backend plugins from its working folder, the libraries' folder. One child at a time: the
    // CPU it used is the growth of this process's reaped children's CPU (getrusage RUSAGE_CHILDREN) across its run.
    private static async Task<(string Stdout, string Stderr, double CpuSeconds)> RunAsync(string path, string workingDirectory, string libraries, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(path) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["COCOON_LLAMA_LIB_DIR"] = libraries;
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var before = ChildrenCpuSeconds();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + path);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        var cpu = ChildrenCpuSeconds() - before;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(path)} exit {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), cpu);
    }

    private static double ChildrenCpuSeconds()
    {
        const int children = -1; // RUSAGE_CHILDREN
        return getrusage(children, out var usage) == 0
            ? usage.UserSeconds + (usage.UserMicros / 1e6) + usage.SystemSeconds + (usage.SystemMicros / 1e6)
            : throw new InvalidOperationException("getrusage failed");
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
#pragma warning disable SA1300, CA5392 // libc's name; libc is the system library
    private static extern int getrusage(int who, out RUsage usage);
#pragma warning restore SA1300, CA5392

    // struct rusage on 64-bit Linux: two timevals, then 14 longs.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential)]
    private struct RUsage
    {
        public long UserSeconds;
        public long UserMicros;
        public long SystemSeconds;
        public long SystemMicros;
        public long Rest0, Rest1, Rest2, Rest3, Rest4, Rest5, Rest6, Rest7, Rest8, Rest9, Rest10, Rest11, Rest12, Rest13;
    }

    private static string Inv(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"generation (\d+) tok, ([0-9.]+) tok/s")]
    private static partial Regex StatsLine();
}
