using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;

namespace Cocoon.Bench.Dispatch;

/// <summary>
/// Which types the process allocates, from the runtime's GC AllocationTick events (one per ~100 KB allocated, naming
/// the type of the object that crossed the mark): a sample proportional to bytes, cheap enough to leave on during a
/// measurement. Only with COCOON_BENCH_ALLOCATIONS=1 (`./cocoon bench dispatch` prints the top types).
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const int GcKeyword = 0x1;
    private readonly ConcurrentDictionary<string, long> _bytes = new(StringComparer.Ordinal);
    private volatile bool _on;

    public static bool Enabled => Environment.GetEnvironmentVariable("COCOON_BENCH_ALLOCATIONS") == "1";

    public void Start()
    {
        _bytes.Clear();
        _on = true;
    }

    public void Stop() => _on = false;

    /// <summary>The top types by sampled bytes, each with its share of all sampled bytes.</summary>
    public IEnumerable<string> Top(int count)
    {
        var total = Math.Max(1, _bytes.Values.Sum());
        return _bytes.OrderByDescending(p => p.Value).Take(count)
            .Select(p => string.Create(CultureInfo.InvariantCulture, $"{100.0 * p.Value / total,5:F1}%  {p.Key}"));
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        ArgumentNullException.ThrowIfNull(eventSource);
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)GcKeyword);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        ArgumentNullException.ThrowIfNull(eventData);
        if (!_on || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.Payload is null)
        {
            return;
        }

        var names = eventData.PayloadNames!;
        var type = names.IndexOf("TypeName") is var t and >= 0 ? eventData.Payload[t] as string ?? "?" : "?";
        var amount = names.IndexOf("AllocationAmount64") is var a and >= 0 ? Convert.ToInt64(eventData.Payload[a], CultureInfo.InvariantCulture) : 100_000;
        _bytes.AddOrUpdate(type, amount, (_, v) => v + amount);
    }
}
