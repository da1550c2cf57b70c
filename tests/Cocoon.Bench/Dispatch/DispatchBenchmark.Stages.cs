using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Cocoon.Bot.Dispatch;
using Cocoon.Network.Observability;
using Cocoon.Testing;
using StackExchange.Redis;

namespace Cocoon.Bench.Dispatch;

/// <summary>
/// Where the gateway's time to first token goes, stage by stage: the stage marks (<see cref="StageMarks"/>) of the
/// gateway's and the worker's spans of each sampled request, as offsets from the moment the caller asked, p50/p99 per
/// stage. Recording spans costs a little, so this runs as a phase of its own after the clean measurement, and prints its
/// own total beside it.
/// </summary>
public static partial class DispatchBenchmark
{
    private static readonly ActivitySource BenchSource = new("Cocoon.Bench.Ttft");

    /// <summary>The stages in path order; "started" is the dispatch span's start, "picked-up" the worker's job span's.</summary>
    private static readonly (string Name, string Meaning)[] StageOrder =
    [
        ("started", "dispatcher runs (request checked, model resolved)"),
        ("matched", "matcher ranked the workers"),
        ("leased", "lease claimed in Redis (EVAL reply)"),
        ("sealed", "job sealed with HPKE"),
        ("hold-committed", "ledger hold committed (SQLite group commit)"),
        ("held", "attempt saw the hold"),
        ("enqueued", "job XADD reply"),
        ("read", "worker's XREADGROUP returned"),
        ("picked-up", "worker's job task runs, envelope parsed"),
        ("opened", "job opened (HPKE)"),
        ("generating", "service called"),
        ("chunk-sealed", "first chunk sealed"),
        ("chunk-appended", "first chunk XADD reply (worker)"),
        ("dequeued", "attempt took the routed entry (gateway)"),
        ("delivered", "piece opened and queued to the caller"),
        ("first-token", "caller has the first piece"),
    ];

    /// <summary>`./cocoon bench ttft`: the instant service only, gateway TTFT, PING and the stage breakdown (a quicker loop than `dispatch`).</summary>
    public static async Task RunTtftAsync(BenchContext bench)
    {
        ArgumentNullException.ThrowIfNull(bench);
        var ct = bench.CancellationToken;
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-bench-ttft");
        await using var network = await StartNetworkAsync(redis, data.Path, "t:", instant: true, ct).ConfigureAwait(false);
        var warmUp = await WarmUpAsync(network, ct).ConfigureAwait(false);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        await Task.Delay(TimeSpan.FromSeconds(1), ct).ConfigureAwait(false);
        var gateway = await SteadyAsync(() => GatewayFirstTokenAsync(network, null, ct), ct).ConfigureAwait(false);
        var ping = await SteadyAsync(() => PingAsync(Connection(network)), ct).ConfigureAwait(false);
        var stages = await StagesAsync(network, ct).ConfigureAwait(false);
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Trim() : "n/a";
        Console.WriteLine($"load average: {load} on {Environment.ProcessorCount} cores (after {warmUp.TotalSeconds:F1} s of warm-up)");
        Console.WriteLine($"time to first token, instant service, ms ({TtftRequests} at {TtftRatePerSecond}/s)   p50      p99");
        Console.WriteLine($"  {"via gateway",-32}{gateway.P50,8:F2} {gateway.P99,8:F2}   ({gateway.Samples} samples)");
        Console.WriteLine($"  {"one Redis PING (same rate)",-32}{ping.P50,8:F2} {ping.P99,8:F2}");
        PrintStages(stages);
        var path = await bench.WriteJsonAsync("ttft", new { loadAverage = load, gateway, redisPing = ping, stages }).ConfigureAwait(false);
        Console.WriteLine($"wrote {path}");
    }

    /// <summary>One stage: when the sampled requests reached it (ms after the caller asked), and the step from the stage listed before it.</summary>
    public sealed record StageStats(string Stage, string Meaning, double AtP50, double AtP99, double StepP50, double StepP99, int Samples);

    public sealed record StageBreakdown(TtftStats Total, IReadOnlyList<StageStats> Stages);

    /// <summary>TtftRequests requests at the steady rate with span recording on; returns the stage offsets of each.</summary>
    private static async Task<StageBreakdown> StagesAsync(BenchNetwork network, CancellationToken ct)
    {
        var spans = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is CocoonTracing.GatewaySource or CocoonTracing.WorkerSource || ReferenceEquals(s, BenchSource),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = spans.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var total = await SteadyAsync(() => StagedFirstTokenAsync(network, ct), ct).ConfigureAwait(false);
        // The worker's span ends after its final chunk is acknowledged: give the last ones a moment.
        await Task.Delay(TimeSpan.FromMilliseconds(500), ct).ConfigureAwait(false);

        var byTrace = spans.GroupBy(s => s.TraceId).ToList();
        var offsets = StageOrder.ToDictionary(s => s.Name, _ => new List<double>());
        var steps = StageOrder.ToDictionary(s => s.Name, _ => new List<double>());
        foreach (var trace in byTrace)
        {
            if (trace.FirstOrDefault(s => s.OperationName == "bench.request") is not { } root)
            {
                continue;
            }

            var at = new Dictionary<string, DateTime>(StringComparer.Ordinal);
            foreach (var span in trace)
            {
                if (span.OperationName == "cocoon.dispatch")
                {
                    at["started"] = span.StartTimeUtc;
                }
                else if (span.OperationName == "cocoon.job")
                {
                    at["picked-up"] = span.StartTimeUtc;
                }

                foreach (var e in span.Events)
                {
                    // A re-dispatch marks stages twice; the first counts (at 10/s there are none).
                    at.TryAdd(e.Name, e.Timestamp.UtcDateTime);
                }
            }

            if (!at.ContainsKey("first-token") || !at.ContainsKey("chunk-appended"))
            {
                continue;
            }

            double? previous = 0;
            foreach (var (name, _) in StageOrder)
            {
                if (!at.TryGetValue(name, out var when))
                {
                    continue;
                }

                var ms = (when - root.StartTimeUtc).TotalMilliseconds;
                offsets[name].Add(ms);
                if (previous is { } p)
                {
                    steps[name].Add(ms - p);
                }

                previous = ms;
            }
        }

        var stages = StageOrder.Where(s => offsets[s.Name].Count > 0).Select(s =>
        {
            var o = Stats([.. offsets[s.Name]]);
            // Steps may be negative (a stage that ran beside the one above), so not through Stats, which drops those.
            var d = steps[s.Name].Order().ToArray();
            return new StageStats(s.Name, s.Meaning, o.P50, o.P99, Percentile(d, 0.50), Percentile(d, 0.99), o.Samples);
        }).ToList();
        return new StageBreakdown(total, stages);
    }

    private static async Task<double> StagedFirstTokenAsync(BenchNetwork network, CancellationToken ct)
    {
        using var root = BenchSource.StartActivity("bench.request");
        var watch = Stopwatch.StartNew();
        double first = -1;
        try
        {
            await foreach (var e in network.Dispatcher.DispatchAsync(Request(network), ct).ConfigureAwait(false))
            {
                if (first < 0 && e is DispatchPiece)
                {
                    first = watch.Elapsed.TotalMilliseconds;
                    root?.AddEvent(new ActivityEvent("first-token"));
                }
            }
        }
        catch (WorkersBusyException)
        {
            return -1;
        }

        return first;
    }

    private static void PrintStages(StageBreakdown breakdown)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"stages to the first token, ms after the caller asked (spans recorded: TTFT in this phase p50 {breakdown.Total.P50:F2}, p99 {breakdown.Total.P99:F2})"));
        Console.WriteLine($"  {"stage",-16}{"at p50",8}{"at p99",8}{"step p50",10}{"step p99",10}   (step: from the stage above; negative = ran beside it)");
        foreach (var s in breakdown.Stages)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {s.Stage,-16}{s.AtP50,8:F3}{s.AtP99,8:F3}{s.StepP50,10:F3}{s.StepP99,10:F3}   {s.Meaning} ({s.Samples})"));
        }
    }
}
