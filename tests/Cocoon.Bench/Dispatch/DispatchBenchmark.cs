using System.Diagnostics;
using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Cocoon.Bench.Dispatch;

/// <summary>
/// (a) Dispatch throughput through Redis (hold, match, lease, HPKE seal, XADD, worker open + seal, result stream,
/// receipt check, settle) with a worker that answers instantly, beside raw XADD of a job-sized payload at the same
/// concurrency, measured in the same run against the same redis-server.
/// (b) Time to first token through the gateway minus calling the inference service directly, p50/p99 at a steady
/// request rate, with the real small model (llama.cpp) and with the instant service (pure transport overhead).
/// </summary>
public static partial class DispatchBenchmark
{
    private const int Concurrency = 16;
    private const int ThroughputRequests = 4000;
    private const int CryptoIterations = 2000;

    /// <summary>
    /// Warm-up lasts until tiered compilation has settled (with dynamic PGO hot methods are compiled three times, and on
    /// 2 busy cores the background compiler needs many seconds): a gateway runs for days, so the steady state is what
    /// counts. Settled = fewer than JitSettledMethods compiled in a second; never longer than MaxWarmUp.
    /// </summary>
    private static readonly TimeSpan MinWarmUp = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan MaxWarmUp = TimeSpan.FromSeconds(30);
    private const int JitSettledMethods = 20;
    // 300 samples: with 100 the "p99" is the second-worst sample and one scheduler hiccup moves it by 10 ms.
    private const int TtftRequests = 300;
    private const double TtftRatePerSecond = 10;
    private const int LlamaRequests = 40;
    private const double LlamaRatePerSecond = 4;

    public static async Task RunAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-bench-dispatch");
        // INFO (CPU and command counts) needs admin mode, which the network's own connections do not have.
        using var admin = await ConnectionMultiplexer.ConnectAsync(redis.Endpoint + ",allowAdmin=true").ConfigureAwait(false);

        // (a) throughput with the instant worker.
        double xaddPerSecond, dispatchPerSecond;
        CostPerOp xaddCost, dispatchCost;
        IReadOnlyList<(string Command, double PerOperation)> dispatchCommands;
        double allocatedPerDispatch;
        // COCOON_BENCH_DISPATCH_QUICK=1: the throughput phase only (for profiling the CPU per dispatch quickly).
        var quick = Environment.GetEnvironmentVariable("COCOON_BENCH_DISPATCH_QUICK") == "1";
        var none = new TtftStats(double.NaN, double.NaN, 0);
        (long Methods, double Milliseconds) jitDuring;
        TtftStats instantGateway, instantDirect, ledgerHold, toWorker, fromWorker, redisPing, freshStatement;
        TimeSpan warmUp;
        StageBreakdown stages;
        // The crypto of one dispatch, each stage alone: also gives the size of a sealed job for the XADD peer.
        var crypto = CryptoStages.Measure(CryptoIterations);
        await using (var network = await StartNetworkAsync(redis, data.Path, "a:", instant: true, ct).ConfigureAwait(false))
        {
            (xaddPerSecond, xaddCost) = await RawXaddAsync(Connection(network), admin, crypto.SealedJobBytes, ct).ConfigureAwait(false);
            warmUp = await WarmUpAsync(network, ct).ConfigureAwait(false);
            Console.WriteLine($"  warmed up for {warmUp.TotalSeconds:F1} s");
            var jitBefore = (System.Runtime.JitInfo.GetCompiledMethodCount(), System.Runtime.JitInfo.GetCompilationTime());
            var before = await CpuSample.TakeAsync(admin).ConfigureAwait(false);
            // Every thread's allocations (gateway, worker, ledger, driver): the GC's share of the CPU follows them.
            var allocatedBefore = GC.GetTotalAllocatedBytes(precise: false);
            using var sampler = AllocationSampler.Enabled ? new AllocationSampler() : null;
            sampler?.Start();
            var watch = Stopwatch.StartNew();
            await RunDispatchesAsync(network, ThroughputRequests, ct).ConfigureAwait(false);
            dispatchPerSecond = ThroughputRequests / watch.Elapsed.TotalSeconds;
            allocatedPerDispatch = (double)(GC.GetTotalAllocatedBytes(precise: false) - allocatedBefore) / ThroughputRequests;
            sampler?.Stop();
            if (sampler is not null)
            {
                Console.WriteLine("  allocations by type (sampled every ~100 KB):");
                foreach (var line in sampler.Top(30))
                {
                    Console.WriteLine("    " + line);
                }
            }

            var after = await CpuSample.TakeAsync(admin).ConfigureAwait(false);
            dispatchCost = before.Per(after, ThroughputRequests);
            dispatchCommands = before.CommandsPer(after, ThroughputRequests);
            jitDuring = (System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Item1, (System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Item2).TotalMilliseconds);
            Console.WriteLine($"  throughput phase done; measuring time to first token (instant service)");
            if (quick)
            {
                (instantGateway, instantDirect, ledgerHold, toWorker, fromWorker, redisPing, freshStatement) = (none, none, none, none, none, none, none);
                stages = new StageBreakdown(none, []);
            }
            else
            {
                // The burst above leaves garbage and a grown thread pool; let the steady phase start from steady state.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
                instantDirect = await SteadyAsync(() => DirectFirstTokenAsync(Inference(network), ct), ct).ConfigureAwait(false);
                var legs = new System.Collections.Concurrent.ConcurrentBag<(double ToWorker, double FromWorker)>();
                var gcBefore = (GC.GetTotalPauseDuration(), GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2));
                instantGateway = await SteadyAsync(() => GatewayFirstTokenAsync(network, legs, ct), ct).ConfigureAwait(false);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  GC during the gateway phase: {GC.CollectionCount(0) - gcBefore.Item2} gen0, {GC.CollectionCount(1) - gcBefore.Item3} gen1, {GC.CollectionCount(2) - gcBefore.Item4} gen2, {(GC.GetTotalPauseDuration() - gcBefore.Item1).TotalMilliseconds:F1} ms paused"));
                toWorker = Stats([.. legs.Select(l => l.ToWorker)]);
                fromWorker = Stats([.. legs.Select(l => l.FromWorker)]);
                // The ledger's hold is on the path to the first token: measure it alone to show its share.
                ledgerHold = await SteadyAsync(() => HoldAndReleaseAsync(network, ct), ct).ConfigureAwait(false);

                // The floor under every hop: one Redis round trip at the same steady rate. On an idle virtual machine a
                // wake-up can wait for the host to run the vCPU, and that shows here as it does in the path above.
                redisPing = await SteadyAsync(() => PingAsync(Connection(network)), ct).ConfigureAwait(false);

                // A Mini App chat turn (and any sealed reservation with a nonce) waits for the worker's fresh statement over
                // the client's nonce before the client seals: one challenge round trip (publish, the worker signs, result
                // stream, the gateway verifies). It comes before the job, so it adds to that turn's time to first token.
                freshStatement = await SteadyAsync(() => FreshStatementAsync(network, ct), ct).ConfigureAwait(false);
                stages = await StagesAsync(network, ct).ConfigureAwait(false);
            }
        }

        // (b) time to first token with the real model.
        TtftStats llamaGateway = none, llamaDirect = none;
        if (!quick)
        {
            await using (var network = await StartNetworkAsync(redis, data.Path, "b:", instant: false, ct).ConfigureAwait(false))
            {
                Console.WriteLine($"  measuring time to first token (llama)");
                // A lower rate than the instant service: llama.cpp on a shared CPU must keep up, or both sides measure its queue.
                await SteadyAsync(() => DirectFirstTokenAsync(Inference(network), ct), ct, count: 10, rate: LlamaRatePerSecond).ConfigureAwait(false); // warm-up
                llamaDirect = await SteadyAsync(() => DirectFirstTokenAsync(Inference(network), ct), ct, count: LlamaRequests, rate: LlamaRatePerSecond).ConfigureAwait(false);
                llamaGateway = await SteadyAsync(() => GatewayFirstTokenAsync(network, null, ct), ct, count: LlamaRequests, rate: LlamaRatePerSecond).ConfigureAwait(false);
            }
        }

        var ratio = dispatchPerSecond / xaddPerSecond;
        if (File.Exists("/proc/loadavg"))
        {
            // The numbers mean little on an oversubscribed machine; say how busy it was.
            Console.WriteLine($"load average: {File.ReadAllText("/proc/loadavg").Trim()} on {Environment.ProcessorCount} cores");
        }

        Console.WriteLine($"dispatch throughput (instant worker, {Concurrency} concurrent, {ThroughputRequests} requests)");
        Console.WriteLine($"  {"raw XADD/s",-28}{xaddPerSecond,12:F0}");
        Console.WriteLine($"  {"dispatches/s",-28}{dispatchPerSecond,12:F0}");
        Console.WriteLine($"  {"ratio (goal >= 0.5)",-28}{ratio,12:F3}");
        Console.WriteLine($"  (after {warmUp.TotalSeconds:F1} s of warm-up; the JIT compiled {jitDuring.Methods} methods in {jitDuring.Milliseconds:F0} ms during the measurement)");
        // Where the time goes: CPU per operation on this machine, and the crypto no transport change can remove.
        var cores = Environment.ProcessorCount;
        var cryptoCeiling = cores * 1e6 / crypto.PerDispatch;
        var floorCeiling = cores * 1e6 / (crypto.PerDispatch + dispatchCost.RedisCpuMicros);
        var cpuBoundRatio = (crypto.PerDispatch + dispatchCost.RedisCpuMicros) / dispatchCost.TotalCpuMicros;
        Console.WriteLine($"cost per operation, us of CPU ({cores} cores; sealed job {crypto.SealedJobBytes} bytes, the XADD payload)   .NET   redis   total   Redis commands (a script's own calls count)");
        Console.WriteLine($"  {"raw XADD",-36}{xaddCost.ProcessCpuMicros,8:F1}{xaddCost.RedisCpuMicros,8:F1}{xaddCost.TotalCpuMicros,8:F1}{xaddCost.RedisCalls,8:F1}");
        Console.WriteLine($"  {"dispatch (gateway + worker + ledger)",-36}{dispatchCost.ProcessCpuMicros,8:F1}{dispatchCost.RedisCpuMicros,8:F1}{dispatchCost.TotalCpuMicros,8:F1}{dispatchCost.RedisCalls,8:F1}");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  allocated per dispatch (all threads): {allocatedPerDispatch:F0} bytes"));
        Console.WriteLine($"  Redis commands per dispatch, by command: {string.Join(", ", dispatchCommands.Where(c => c.PerOperation >= 0.05).Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Command} {c.PerOperation:F1}")))}");
        Console.WriteLine($"crypto per dispatch, us of process CPU (one thread, each stage alone)");
        Console.WriteLine($"  {"X25519 key generation (reference)",-44}{crypto.X25519KeyGen,8:F1}");
        Console.WriteLine($"  {"gateway: seal job (2 X25519, HKDF, AEAD, JSON)",-44}{crypto.SealJob,8:F1}");
        Console.WriteLine($"  {"worker: open job (1 X25519, HKDF, AEAD, JSON)",-44}{crypto.OpenJob,8:F1}");
        Console.WriteLine($"  {"worker: sign receipt (Ed25519)",-44}{crypto.SignReceipt,8:F1}");
        Console.WriteLine($"  {"gateway: verify receipt (Ed25519)",-44}{crypto.VerifyReceipt,8:F1}");
        Console.WriteLine($"  {"both: seal + open 2 chunks",-44}{crypto.Chunks,8:F1}");
        Console.WriteLine($"  {"total",-44}{crypto.PerDispatch,8:F1}   = {crypto.PerDispatch / dispatchCost.TotalCpuMicros:P0} of a dispatch's CPU");
        Console.WriteLine($"  ceiling from crypto alone on {cores} cores: {cryptoCeiling:F0} dispatches/s = {cryptoCeiling / xaddPerSecond:F3}x raw XADD (goal 0.5x needs <= {cores * 1e6 / (0.5 * xaddPerSecond):F1} us of CPU per dispatch)");
        Console.WriteLine($"  ceiling from crypto + redis-server's own CPU per dispatch ({crypto.PerDispatch + dispatchCost.RedisCpuMicros:F0} us): {floorCeiling:F0} dispatches/s = {floorCeiling / xaddPerSecond:F3}x raw XADD");
        Console.WriteLine($"  dispatches/s / that ceiling (goal >= 0.6): {dispatchPerSecond / floorCeiling:F3}");
        // The same ratio from CPU alone, as if the run had had every core: a busy machine lowers the rate, not this.
        Console.WriteLine($"  from CPU alone, (crypto + redis) / (.NET + redis) per dispatch: {cpuBoundRatio:F3}   (.NET over crypto: {dispatchCost.ProcessCpuMicros - crypto.PerDispatch:F0} us)");
        Console.WriteLine($"time to first token, ms (llama: {LlamaRequests} at {LlamaRatePerSecond}/s; instant: {TtftRequests} at {TtftRatePerSecond}/s)   p50      p99   added p50 (goal <= 2)   added p99 (goal <= 10)");
        foreach (var (name, direct, gateway) in new[] { ("llama (stories260K)", llamaDirect, llamaGateway), ("instant service", instantDirect, instantGateway) })
        {
            Console.WriteLine($"  {name + " direct",-32}{direct.P50,8:F2} {direct.P99,8:F2}   ({direct.Samples} samples)");
            Console.WriteLine($"  {name + " via gateway",-32}{gateway.P50,8:F2} {gateway.P99,8:F2}   {gateway.P50 - direct.P50,12:F2} {gateway.P99 - direct.P99,22:F2}   ({gateway.Samples} samples)");
        }

        Console.WriteLine($"  {"of which ledger hold (alone)",-32}{ledgerHold.P50,8:F2} {ledgerHold.P99,8:F2}");
        Console.WriteLine($"  {"one Redis PING (same rate)",-32}{redisPing.P50,8:F2} {redisPing.P99,8:F2}   (the path has ~5 hops like it before the first token)");
        Console.WriteLine($"  {"fresh statement (Mini App turn)",-32}{freshStatement.P50,8:F2} {freshStatement.P99,8:F2}   (challenge publish, worker signs, result stream, verify: added before a sealed turn's job)");
        Console.WriteLine($"  {"  gateway -> service called",-32}{toWorker.P50,8:F2} {toWorker.P99,8:F2}   (match, lease, hold, seal, XADD, wake-up, read, open)");
        Console.WriteLine($"  {"  service -> first piece out",-32}{fromWorker.P50,8:F2} {fromWorker.P99,8:F2}   (seal chunk, XADD, wake-up, read, route, open)");
        if (quick)
        {
            // The time-to-first-token figures were not measured (NaN has no JSON form): no JSON for a quick run.
            return;
        }

        PrintStages(stages);
        var path = await bench.WriteJsonAsync("dispatch", new
        {
            stages,
            concurrency = Concurrency,
            throughputRequests = ThroughputRequests,
            rawXaddPerSecond = xaddPerSecond,
            dispatchesPerSecond = dispatchPerSecond,
            ratio,
            rawXaddCost = xaddCost,
            dispatchCost,
            allocatedBytesPerDispatch = allocatedPerDispatch,
            redisCommandsPerDispatch = dispatchCommands.ToDictionary(c => c.Command, c => c.PerOperation),
            ceilingRatio = dispatchPerSecond / floorCeiling,
            cpuBoundCeilingRatio = cpuBoundRatio,
            crypto,
            cryptoPerDispatchMicros = crypto.PerDispatch,
            cryptoCeilingPerSecond = cryptoCeiling,
            cryptoCeilingRatio = cryptoCeiling / xaddPerSecond,
            cryptoAndRedisCeilingPerSecond = floorCeiling,
            cryptoAndRedisCeilingRatio = floorCeiling / xaddPerSecond,
            warmUpSeconds = warmUp.TotalSeconds,
            jitDuringMeasurement = new { methods = jitDuring.Methods, milliseconds = jitDuring.Milliseconds },
            ttftRatePerSecond = TtftRatePerSecond,
            ttftRequests = TtftRequests,
            llamaRatePerSecond = LlamaRatePerSecond,
            llamaRequests = LlamaRequests,
            loadAverage = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : null,
            llama = new { direct = llamaDirect, gateway = llamaGateway, addedP50 = llamaGateway.P50 - llamaDirect.P50, addedP99 = llamaGateway.P99 - llamaDirect.P99 },
            ledgerHold,
            redisPing,
            freshStatement,
            gatewayToWorkerStart = toWorker,
            workerEndToGatewayEnd = fromWorker,
            instant = new { direct = instantDirect, gateway = instantGateway, addedP50 = instantGateway.P50 - instantDirect.P50, addedP99 = instantGateway.P99 - instantDirect.P99 },
        }).ConfigureAwait(false);
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>XADD of a payload the size of a sealed job, Concurrency writers each awaiting its reply, as a dispatch does.</summary>
    private static async Task<(double PerSecond, CostPerOp Cost)> RawXaddAsync(IConnectionMultiplexer connection, IConnectionMultiplexer admin, int payloadBytes, CancellationToken ct)
    {
        var db = connection.GetDatabase();
        var payload = new byte[payloadBytes];
        Random.Shared.NextBytes(payload);
        var key = (RedisKey)("bench:xadd:" + Guid.NewGuid().ToString("N"));
        async Task Writers(int total)
        {
            var next = 0;
            await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
            {
                while (Interlocked.Increment(ref next) <= total)
                {
                    await db.StreamAddAsync(key, "job", payload).WaitAsync(ct).ConfigureAwait(false);
                }
            })).ConfigureAwait(false);
        }

        await Writers(20_000).ConfigureAwait(false);
        const int count = 40_000;
        var before = await CpuSample.TakeAsync(admin).ConfigureAwait(false);
        var watch = Stopwatch.StartNew();
        await Writers(count).ConfigureAwait(false);
        var rate = count / watch.Elapsed.TotalSeconds;
        var cost = before.Per(await CpuSample.TakeAsync(admin).ConfigureAwait(false), count);
        await db.KeyDeleteAsync(key).ConfigureAwait(false);
        return (rate, cost);
    }

    private static async Task<TimeSpan> WarmUpAsync(BenchNetwork network, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        var window = Stopwatch.StartNew();
        var compiled = System.Runtime.JitInfo.GetCompiledMethodCount();
        while (watch.Elapsed < MaxWarmUp)
        {
            await RunDispatchesAsync(network, 200, ct).ConfigureAwait(false);
            if (window.Elapsed >= TimeSpan.FromSeconds(1))
            {
                var now = System.Runtime.JitInfo.GetCompiledMethodCount();
                var perSecond = (now - compiled) / window.Elapsed.TotalSeconds;
                (compiled, window) = (now, Stopwatch.StartNew());
                if (watch.Elapsed >= MinWarmUp && perSecond < JitSettledMethods)
                {
                    break;
                }
            }
        }

        return watch.Elapsed;
    }

    private static async Task RunDispatchesAsync(BenchNetwork network, int total, CancellationToken ct)
    {
        var next = 0;
        await Task.WhenAll(Enumerable.Range(0, Concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) <= total)
            {
                await foreach (var e in network.Dispatcher.DispatchAsync(Request(network), ct).ConfigureAwait(false))
                {
                    GC.KeepAlive(e);
                }
            }
        })).ConfigureAwait(false);
    }

    private static async Task<double> DirectFirstTokenAsync(IInferenceService inference, CancellationToken ct)
    {
        var watch = Stopwatch.StartNew();
        double first = -1;
        await foreach (var chunk in inference.GenerateAsync(Generation, ct).ConfigureAwait(false))
        {
            if (first < 0 && chunk.Text.Length > 0)
            {
                first = watch.Elapsed.TotalMilliseconds;
            }
        }

        return first;
    }

    private static async Task<double> PingAsync(IConnectionMultiplexer connection) =>
        (await connection.GetDatabase().PingAsync().ConfigureAwait(false)).TotalMilliseconds;

    private static async Task<double> FreshStatementAsync(BenchNetwork network, CancellationToken ct)
    {
        var worker = network.Gateway.Services.GetRequiredService<WorkerDirectory>().Eligible[0];
        var nonce = System.Security.Cryptography.RandomNumberGenerator.GetBytes(32);
        var watch = Stopwatch.StartNew();
        var fresh = await network.Gateway.Services.GetRequiredService<FreshStatements>().AskAsync(worker, nonce, ct).ConfigureAwait(false);
        return fresh.Statement is null ? throw new InvalidOperationException("no fresh statement: " + fresh.Error) : watch.Elapsed.TotalMilliseconds;
    }

    private static async Task<double> HoldAndReleaseAsync(BenchNetwork network, CancellationToken ct)
    {
        var ledger = network.Gateway.Services.GetRequiredService<ILedger>();
        var watch = Stopwatch.StartNew();
        var hold = await ledger.HoldAsync(network.Payer, 1000, "bench-hold:" + Guid.NewGuid().ToString("N"), ct).ConfigureAwait(false);
        var elapsed = watch.Elapsed.TotalMilliseconds;
        await ledger.ReleaseAsync(hold.Id, ct).ConfigureAwait(false);
        return elapsed;
    }

    /// <summary>A request refused as busy is not a sample (it never got a first token); SteadyAsync reports how many.</summary>
    private static async Task<double> GatewayFirstTokenAsync(BenchNetwork network, System.Collections.Concurrent.ConcurrentBag<(double ToWorker, double FromWorker)>? legs, CancellationToken ct)
    {
        var callsBefore = (Inference(network) as InstantInferenceService)?.Calls.Calls ?? 0;
        var started = Stopwatch.GetTimestamp();
        var watch = Stopwatch.StartNew();
        double first = -1;
        try
        {
            await foreach (var e in network.Dispatcher.DispatchAsync(Request(network), ct).ConfigureAwait(false))
            {
                if (first < 0 && e is DispatchPiece)
                {
                    first = watch.Elapsed.TotalMilliseconds;
                    if (legs is not null && Inference(network) is InstantInferenceService instant)
                    {
                        // The worker's host runs in this process: the service notes when the opened request reached it.
                        // Only requests that did not overlap another one count (at 10/s almost all).
                        var (calls, at) = instant.Calls;
                        if (calls == callsBefore + 1)
                        {
                            var toService = Stopwatch.GetElapsedTime(started, at).TotalMilliseconds;
                            legs.Add((toService, first - toService));
                        }
                    }
                }
            }
        }
        catch (WorkersBusyException)
        {
            return -1;
        }

        return first;
    }

    /// <summary>Starts one request every 1/rate seconds (open loop, so a slow request does not slow the arrivals).</summary>
    private static async Task<TtftStats> SteadyAsync(Func<Task<double>> one, CancellationToken ct, int count = TtftRequests, double rate = TtftRatePerSecond)
    {
        var interval = TimeSpan.FromSeconds(1 / rate);
        var start = Stopwatch.GetTimestamp();
        var tasks = new List<Task<double>>(count);
        for (var i = 0; i < count; i++)
        {
            var due = TimeSpan.FromTicks(interval.Ticks * i) - Stopwatch.GetElapsedTime(start);
            if (due > TimeSpan.Zero)
            {
                await Task.Delay(due, ct).ConfigureAwait(false);
            }

            tasks.Add(Task.Run(one, ct));
        }

        return Stats(await Task.WhenAll(tasks).ConfigureAwait(false));
    }

    private static TtftStats Stats(double[] values)
    {
        var samples = values.Where(s => s >= 0).Order().ToArray();
        return new TtftStats(Percentile(samples, 0.50), Percentile(samples, 0.99), samples.Length);
    }

    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];

    public sealed record TtftStats(double P50, double P99, int Samples);

    private static readonly GenerationRequest Generation = new()
    {
        Prompt = "Once upon a time",
        Sampling = new SamplingOptions { MaxTokens = 2, Temperature = 0 },
    };

    /// <summary>The shared bench network on the small model, its worker answering instantly or with llama.cpp; data in dataRoot/PREFIX.</summary>
    private static Task<BenchNetwork> StartNetworkAsync(RedisServer redis, string dataRoot, string prefix, bool instant, CancellationToken ct) =>
        BenchNetwork.StartAsync(redis, prefix, Path.Combine(dataRoot, prefix.TrimEnd(':')), new Dictionary<string, string?>
        {
            ["Worker:Model"] = SharedFiles.SmallModel,
            ["Worker:MaxConcurrency"] = instant ? "64" : "8",
            ["Llama:MaxConcurrency"] = "8",
            ["Llama:ContextSize"] = "512",
        },
        (services, configuration) =>
        {
            if (instant)
            {
                services.AddSingleton<IInferenceService, InstantInferenceService>();
            }
            else
            {
                services.AddLlamaInference(configuration);
            }
        },
        worker => worker.GetRequiredService<IInferenceService>().Model.Name, ct);

    private static DispatchRequest Request(BenchNetwork network) => new()
    {
        RequestId = Guid.NewGuid().ToString("N"),
        Payer = network.Payer,
        Model = network.Model,
        Generation = Generation,
    };

    private static IInferenceService Inference(BenchNetwork network) => network.Worker.Services.GetRequiredService<IInferenceService>();

    private static IConnectionMultiplexer Connection(BenchNetwork network) => network.Gateway.Services.GetRequiredService<IConnectionMultiplexer>();
}
