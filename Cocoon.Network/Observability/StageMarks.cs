using System.Diagnostics;

namespace Cocoon.Network.Observability;

/// <summary>
/// Events on a request's spans that say when it passed a stage of the path to its first token (matched, leased, sealed,
/// held, enqueued, read by the worker, opened, first chunk sealed and appended, routed, delivered). They cost a null
/// check unless a listener records the span's data (an OTLP exporter, or `./cocoon bench dispatch`, which prints p50
/// and p99 per stage from them). Names only: never a prompt, a reply or a user.
/// </summary>
public static class StageMarks
{
    public static void Mark(Activity? span, string stage)
    {
        if (span is { IsAllDataRequested: true })
        {
            span.AddEvent(new ActivityEvent(stage));
        }
    }

    /// <summary>A stage passed earlier, at a <see cref="Stopwatch.GetTimestamp"/> reading (e.g. when a reply arrived).</summary>
    public static void Mark(Activity? span, string stage, long stopwatchTimestamp)
    {
        if (span is { IsAllDataRequested: true } && stopwatchTimestamp != 0)
        {
            span.AddEvent(new ActivityEvent(stage, DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(stopwatchTimestamp)));
        }
    }

    /// <summary>The current span when it is one of source's (not, say, ASP.NET Core's request span).</summary>
    public static Activity? Current(ActivitySource source) =>
        Activity.Current is { IsAllDataRequested: true } current && ReferenceEquals(current.Source, source) ? current : null;
}
