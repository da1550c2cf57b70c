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
/// appsettings.json: 2048 tokens per sequence, 8 sequences, one KV stream per sequence), one greedy stream of 128 tokens
/// on the small model, beside llama-bench generating 128 tokens at the depth ours starts at, at 1 and 2 threads. One run
/// of 128 tokens takes 15-30 ms, too short to compare alone on a shared machine, so a round interleaves Runs runs of
/// each (generate, llama-bench, the service, in turn) and compares their summed decode time: a round's ratio is
/// over about Runs x 25 ms of each engine spread over the same seconds. The ratios are medians of Rounds rounds, with
/// their range. COCOON_BENCH_FACTORS=true adds one service per setting that differs from the peer (each alone on top
/// of the worker's defaults), so each factor's cost shows as its own ratio.
/// What each timed region holds: llama-bench's is its 128 one-token decodes after its load, its warm-up decode and the
/// depth prefill; ours is from the first token to the last (127 decodes, 128 samplings, detokenizing, streaming) after
/// the load, the service's warm-up (Llama:WarmUp, as llama-bench's) and the prompt. `generate --warmup false` runs
/// beside it (the first answer then pays the first calls inside its window). "wall ms" is a whole process per answer,
/// start to exit, as a user sees it: .NET start, model load, warm-up, prompt and generation (llama-bench: load,
/// warm-up, depth and its timed run).
/// </summary>
public static partial class DefaultsBenchmark
{
    private const int MaxTokens = 128;
    private static readonly int Rounds = EnvInt("COCOON_BENCH_ROUNDS", 7);
    private static readonly int Runs = EnvInt("COCOON_BENCH_RUNS", 8);
    // Rounds stop early once a thread count has taken this long (at least MinRounds run): on an oversubscribed machine
    // 2 threads crawl (ggml's barriers wait for descheduled threads) and 7 rounds could take most of an hour.
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(EnvInt("COCOON_BENCH_SECONDS", 120));
    private const int MinRounds = 3;
    // A short prompt: generation starts near depth 0, where the issue compared generate with llama-bench.
    private const string Prompt = "Once upon a time";

    // COCOON_BENCH_THREADS=N measures N threads only; by default 1 and 2 (the issue's goal is at both).
    private static readonly int[] ThreadCounts = EnvInt("COCOON_BENCH_THREADS", 0) is > 0 and var t ? [t] : [1, 2];

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
        var load = LoadAverage();
        var first = WorkerDefaults(workerDir, libraries, data.Path, ThreadCounts[0]);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stories260K, greedy, {MaxTokens} tokens per run, up to {Rounds} rounds ({MinRounds} at least, no new one after {Budget.TotalSeconds:F0} s) of {Runs} interleaved runs per engine; llama-bench -p 0 -n {MaxTokens} -d (our prompt tokens) -r 1"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"worker defaults (appsettings.json): ContextSize {first.ContextSize}, MaxConcurrency {first.MaxConcurrency}, BatchSize {first.BatchSize}, KvUnified {first.KvUnified}, ThreadPoll {first.ThreadPoll}; generate: the same with MaxConcurrency 1"));
        Console.WriteLine($"{"threads",7} {"engine",-44} {"gen tok/s",10} {"/ llama-bench",14} {"range of rounds",16} {"CPU us/token",13} {"CPU: llama-bench's / ours",26} {"wall ms",8}");
        var results = new List<object>();
        foreach (var threads in ThreadCounts)
        {
            results.Add(await RunThreadsAsync(threads, generate, workerDir, libraries, tools, data.Path, ct).ConfigureAwait(false));
        }

        var path = await bench.WriteJsonAsync("llama-defaults", new
        {
            maxTokens = MaxTokens,
            rounds = Rounds,
            runsPerRound = Runs,
            loadAverageBefore = load,
            loadAverageAfter = LoadAverage(),
            results,
        }).ConfigureAwait(false);
        Console.WriteLine($"load average before {load}, after {LoadAverage()}");
        Console.WriteLine($"json: {path}");
    }

    private static async Task<object> RunThreadsAsync(int threads, string generate, string workerDir, string libraries, string tools, string dataDir, CancellationToken ct)
    {
        var defaults = WorkerDefaults(workerDir, libraries, dataDir, threads);
        var variants = new List<(string Name, LlamaInferenceOptions Options)> { ("worker, default settings", defaults) };
        if (Environment.GetEnvironmentVariable("COCOON_BENCH_FACTORS") == "true")
        {
            // One change at a time away from the worker's defaults, then the bench llama's own settings.
            variants.Add(("  KvUnified true", defaults with { KvUnified = true }));
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
                    await ServiceRunAsync(service, MaxTokens, ct).ConfigureAwait(false);
                }
            }

            // llama-bench generates at the depth ours starts at (the prompt is in the cache), in a context of its own size.
            var depth = await PromptTokensAsync(services[0], ct).ConfigureAwait(false);
            var peer = new Engine();
            var cli = new Engine();
            var cold = new Engine();
            var ours = variants.Select(_ => new Engine()).ToList();
            var clock = Stopwatch.StartNew();
            for (var round = 0; round < Rounds && (round < MinRounds || clock.Elapsed < Budget); round++)
            {
                var (peerRun, cliRun, coldRun) = (new Run(), new Run(), new Run());
                var oursRun = variants.Select(_ => new Run()).ToList();
                for (var i = 0; i < Runs; i++)
                {
                    cliRun.Add(await GenerateAsync(generate, libraries, threads, MaxTokens, warmUp: true, ct).ConfigureAwait(false));
                    peerRun.Add(await LlamaBenchAsync(tools, libraries, threads, depth, MaxTokens, ct).ConfigureAwait(false));
                    coldRun.Add(await GenerateAsync(generate, libraries, threads, MaxTokens, warmUp: false, ct).ConfigureAwait(false));
                    for (var v = 0; v < services.Count; v++)
                    {
                        // This process's CPU across the run: the decode thread and its threadpool, the consumer, and
                        // whatever else the bench process does meanwhile (nothing, between runs).
                        var before = CpuSeconds(Self);
                        var steps = await ServiceRunAsync(services[v], MaxTokens, ct).ConfigureAwait(false);
                        oursRun[v].Add((steps, CpuSeconds(Self) - before));
                    }
                }

                // CPU per generated token of each process: its CPU with 128 tokens minus with 1, over 127 steps. A shared
                // machine's load moves it far less than wall-clock rates (spinning threads and page faults aside).
                cliRun.OneTokenCpu = (await GenerateAsync(generate, libraries, threads, 1, warmUp: true, ct).ConfigureAwait(false)).Cpu;
                coldRun.OneTokenCpu = (await GenerateAsync(generate, libraries, threads, 1, warmUp: false, ct).ConfigureAwait(false)).Cpu;
                peerRun.OneTokenCpu = (await LlamaBenchAsync(tools, libraries, threads, depth, 1, ct).ConfigureAwait(false)).Cpu;
                for (var v = 0; v < services.Count; v++)
                {
                    var before = CpuSeconds(Self);
                    await ServiceRunAsync(services[v], 1, ct).ConfigureAwait(false);
                    oursRun[v].OneTokenCpu = CpuSeconds(Self) - before;
                }

                peer.Add(peerRun, null);
                cli.Add(cliRun, peerRun);
                cold.Add(coldRun, peerRun);
                for (var v = 0; v < services.Count; v++)
                {
                    ours[v].Add(oursRun[v], peerRun);
                }
            }

            Show(threads, $"llama-bench (tg{MaxTokens} @ d{depth})", peer, clock.Elapsed);
            Show(threads, "generate (CLI, defaults)", cli, null);
            Show(threads, "generate --warmup false", cold, null);
            for (var v = 0; v < variants.Count; v++)
            {
                Show(threads, variants[v].Name, ours[v], null);
            }

            return new
            {
                threads,
                depth,
                roundsRun = peer.Rates.Count,
                seconds = clock.Elapsed.TotalSeconds,
                workerDefaults = new { defaults.ContextSize, defaults.MaxConcurrency, defaults.BatchSize, defaults.KvUnified, defaults.ThreadPoll, defaults.ChunkIntervalMs },
                llamaBench = peer.Json(),
                generate = cli.Json(),
                generateNoWarmUp = cold.Json(),
                services = variants.Select((v, i) => new { name = v.Name.Trim(), result = ours[i].Json() }),
            };
        }
        finally
        {
            foreach (var s in services)
            {
                s.Dispose();
            }
        }
    }

    /// <summary>One engine's runs within a round: decode steps, seconds, process CPU (CLI and llama-bench only).</summary>
    private sealed class Run
    {
        public int Steps { get; private set; }

        public double Seconds { get; private set; }

        public double Cpu { get; private set; }

        /// <summary>Whole processes, start to exit (CLI and llama-bench only).</summary>
        public List<double> WallSeconds { get; } = [];

        public int Count { get; private set; }

        public double? OneTokenCpu { get; set; }

        public double Rate => Steps / Seconds;

        /// <summary>CPU µs per decode step: the mean CPU of a 128-token run minus a 1-token run, over 127 steps.</summary>
        public double? CpuMicrosPerStep => OneTokenCpu is { } one && Count > 0 ? ((Cpu / Count) - one) * 1e6 / (MaxTokens - 1) : null;

        public void Add((Steps Steps, double Cpu) run) => Add((run.Steps, run.Cpu, double.NaN));

        public void Add((Steps Steps, double Cpu, double Wall) run)
        {
            Steps += run.Steps.Count;
            Seconds += run.Steps.Seconds;
            Cpu += run.Cpu;
            Count++;
            if (!double.IsNaN(run.Wall))
            {
                WallSeconds.Add(run.Wall);
            }
        }
    }

    /// <summary>Decode steps after the first token and the seconds they took.</summary>
    private readonly record struct Steps(int Count, double Seconds);

    /// <summary>One engine across rounds: its rate per round and, against the peer's same round, its ratio.</summary>
    private sealed class Engine
    {
        public List<double> Rates { get; } = [];

        public List<double> Ratios { get; } = [];

        public List<double> CpuMicros { get; } = [];

        public List<double> CpuRatios { get; } = [];

        public List<double> WallSeconds { get; } = [];

        public void Add(Run run, Run? peer)
        {
            Rates.Add(run.Rate);
            WallSeconds.AddRange(run.WallSeconds);
            if (run.CpuMicrosPerStep is { } cpu)
            {
                CpuMicros.Add(cpu);
                // Under load a 1-token run can cost more than the 128-token runs' mean; such a round has no CPU ratio.
                if (peer?.CpuMicrosPerStep is { } peerCpu && cpu > 0 && peerCpu > 0)
                {
                    CpuRatios.Add(peerCpu / cpu);
                }
            }

            if (peer is not null)
            {
                Ratios.Add(run.Rate / peer.Rate);
            }
        }

        public object Json() => new
        {
            rates = Rates,
            medianRate = Median(Rates),
            ratios = Ratios,
            medianRatio = Ratios.Count > 0 ? Median(Ratios) : (double?)null,
            cpuMicrosPerToken = CpuMicros,
            cpuSpeedRatios = CpuRatios,
            medianWallSecondsPerProcess = WallSeconds.Count > 0 ? Median(WallSeconds) : (double?)null,
        };
    }

    private static void Show(int threads, string name, Engine e, TimeSpan? took)
    {
        if (took is { } t)
        {
            name += string.Create(CultureInfo.InvariantCulture, $", {e.Rates.Count} rounds, {t.TotalSeconds:F0} s");
        }

        var ratio = e.Ratios.Count == 0 ? "" : $"{Median(e.Ratios):F2}x";
        var range = e.Ratios.Count == 0 ? "" : $"{e.Ratios.Min():F2}..{e.Ratios.Max():F2}x";
        var cpu = e.CpuMicros.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Median(e.CpuMicros):F0}");
        var cpuRatio = e.CpuRatios.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Median(e.CpuRatios):F2}x ({e.CpuRatios.Min():F2}..{e.CpuRatios.Max():F2})");
        var wall = e.WallSeconds.Count == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"{Median(e.WallSeconds) * 1000:F0}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{threads,7} {name,-44} {Median(e.Rates),10:F0} {ratio,14} {range,16} {cpu,13} {cpuRatio,26} {wall,8}"));
    }

    private static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

    private static int EnvInt(string name, int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable(name), CultureInfo.InvariantCulture, out var v) && v > 0 ? v : fallback;

    /// <summary>The worker's settings as `./cocoon worker` reads them (its appsettings.json), on this bench's threads and model.</summary>
    private static LlamaInferenceOptions WorkerDefaults(string workerDir, string libraries, string dataDir, int threads)
    {
        var configuration = new ConfigurationBuilder()
            .AddJsonFile(Path.Combine(workerDir, "appsettings.json"), optional: false)
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Worker:Model"] = SharedFiles.SmallModel,
                ["Llama:LibraryDir"] = libraries,
                ["Llama:Threads"] = Inv(threads),
                ["Cocoon:DataDir"] = dataDir,
            })
            .Build();
        return LlamaInferenceOptions.FromConfiguration(configuration);
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

    /// <summary>Generation steps after the first token and their time, as llama-bench counts them (128 tokens = 127 steps).</summary>
    private static async Task<Steps> ServiceRunAsync(LlamaInferenceService service, int maxTokens, CancellationToken ct)
    {
        var request = new GenerationRequest { Prompt = Prompt, Sampling = new SamplingOptions { MaxTokens = maxTokens, Temperature = 0 } };
        GenerationUsage? usage = null;
        await foreach (var chunk in service.GenerateAsync(request, ct).ConfigureAwait(false))
        {
            usage = chunk.Usage ?? usage;
        }

        return new Steps(usage!.CompletionTokens - 1, usage.GenerationTime.TotalSeconds);
    }

    /// <summary>
    /// `Cocoon.Worker generate` as `./cocoon generate` runs it: its generation steps and their time (the stats line's rate
    /// counts all tokens over the time after the first, so 127 of 128 are steps) and the process's CPU seconds.
    /// </summary>
    private static async Task<(Steps Steps, double Cpu, double Wall)> GenerateAsync(string program, string libraries, int threads, int maxTokens, bool warmUp, CancellationToken ct)
    {
        var (_, stderr, cpu, wall) = await RunAsync(program, Environment.CurrentDirectory, libraries,
            ["generate", "--prompt", Prompt, "--model", SharedFiles.SmallModel, "--max-tokens", Inv(maxTokens), "--temperature", "0", "--threads", Inv(threads), "--warmup", warmUp ? "true" : "false"], ct).ConfigureAwait(false);
        var match = StatsLine().Match(stderr);
        if (!match.Success)
        {
            throw new InvalidOperationException("generate printed no stats line: " + stderr.Trim());
        }

        var tokens = int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
        var rate = double.Parse(match.Groups[2].Value, CultureInfo.InvariantCulture);
        return (tokens > 1 && rate > 0 ? new Steps(tokens - 1, tokens / rate) : new Steps(0, 0), cpu, wall);
    }

    private static async Task<(Steps Steps, double Cpu, double Wall)> LlamaBenchAsync(string tools, string libraries, int threads, int depth, int tokens, CancellationToken ct)
    {
        var (stdout, _, cpu, wall) = await RunAsync(Path.Combine(tools, "llama-bench"), libraries, libraries,
            ["-m", SharedFiles.SmallModel, "-t", Inv(threads), "-r", "1", "-o", "json", "-p", "0", "-n", Inv(tokens), "-d", Inv(depth)], ct).ConfigureAwait(false);
        using var json = JsonDocument.Parse(stdout);
        return (new Steps(tokens, json.RootElement.EnumerateArray().Single().GetProperty("avg_ns").GetDouble() / 1e9), cpu, wall);
    }

    // llama-bench loads the CPU backend plugins from its working folder, the libraries' folder. One child at a time: the
    // CPU it used is the growth of this process's reaped children's CPU (getrusage RUSAGE_CHILDREN) across its run.
    private static async Task<(string Stdout, string Stderr, double CpuSeconds, double WallSeconds)> RunAsync(string path, string workingDirectory, string libraries, string[] args, CancellationToken ct)
    {
        var start = new ProcessStartInfo(path) { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.Environment["COCOON_LLAMA_LIB_DIR"] = libraries;
        foreach (var a in args)
        {
            start.ArgumentList.Add(a);
        }

        var before = CpuSeconds(Children);
        var clock = Stopwatch.StartNew();
        using var process = Process.Start(start) ?? throw new InvalidOperationException("could not start " + path);
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        var wall = clock.Elapsed.TotalSeconds;
        var cpu = CpuSeconds(Children) - before;
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{Path.GetFileName(path)} exit {process.ExitCode}: {(await stderr.ConfigureAwait(false)).Trim()}");
        }

        return (await stdout.ConfigureAwait(false), await stderr.ConfigureAwait(false), cpu, wall);
    }

    private const int Self = 0; // RUSAGE_SELF
    private const int Children = -1; // RUSAGE_CHILDREN

    private static double CpuSeconds(int who)
    {
        return getrusage(who, out var usage) == 0
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
