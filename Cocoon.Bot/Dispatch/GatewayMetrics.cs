using System.Diagnostics.Metrics;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// The gateway's instruments (Meter "Cocoon.Gateway", exported to Prometheus by the host). Tags are fixed
/// vocabularies (reasons, outcomes, model names): never a prompt, an answer or an identifier chosen by a user.
/// </summary>
public sealed class GatewayMetrics
{
    public const string MeterName = "Cocoon.Gateway";

    private readonly Counter<long> _refusals;
    private readonly Counter<long> _jobs;
    private readonly Counter<long> _tokens;
    private readonly Counter<long> _cache;
    private readonly Histogram<double> _timeToFirstToken;
    private readonly Histogram<double> _tokensPerSecond;
    private readonly Histogram<double> _admissionWait;
    private readonly Counter<long> _admissions;
    private readonly Counter<long> _redispatches;
    private readonly Counter<long> _resumes;

    // A worker reports its own failure reasons (up to 64 characters): the first 32 distinct ones are series, then "other".
    private readonly Observability.BoundedLabel _reasons = new([], maxOthers: 32);
    private readonly Observability.BoundedLabel _outcomes = new([], maxOthers: 16);
    private long _queued;
    private volatile Func<int>? _waiting;
    private int _workersOnline;

    public GatewayMetrics(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var meter = meterFactory.Create(MeterName);
        _refusals = meter.CreateCounter<long>("cocoon.refusals", description: "Workers, chunks and receipts the gateway refused, by reason.");
        _jobs = meter.CreateCounter<long>("cocoon.jobs", description: "Dispatched requests by outcome.");
        _tokens = meter.CreateCounter<long>("cocoon.tokens", description: "Tokens served, by kind (prompt, completion, cached: the prompt tokens a worker's prefix cache served).");
        _cache = meter.CreateCounter<long>("cocoon.prefix_cache", description: "Jobs with a cache scope, by event: hit / miss (cached prompt tokens or none), affinity-hit / affinity-miss (routed to the worker of the previous turn or not).");
        _timeToFirstToken = meter.CreateHistogram<double>("cocoon.time_to_first_token", unit: "s", description: "From dispatch to the first opened piece.");
        _tokensPerSecond = meter.CreateHistogram<double>("cocoon.tokens_per_second", unit: "{token}/s", description: "Completion tokens per second of generation, per request.");
        meter.CreateObservableGauge("cocoon.queue_depth", () => Interlocked.Read(ref _queued), description: "Jobs sealed and enqueued whose first piece has not arrived yet.");
        _admissionWait = meter.CreateHistogram<double>("cocoon.admission_wait", unit: "s", description: "Time a request waited in the admission queue for a worker slot, by outcome.");
        _admissions = meter.CreateCounter<long>("cocoon.admissions", description: "Requests that found every worker busy, by outcome (served, queue-full, deadline, cancelled).");
        meter.CreateObservableGauge("cocoon.admission_queue_depth", () => _waiting?.Invoke() ?? 0, description: "Requests waiting in the admission queue for a worker slot.");
        _redispatches = meter.CreateCounter<long>("cocoon.redispatches", description: "Requests sent to another worker after an attempt failed (a worker died, stalled, refused or sent a broken stream).");
        _resumes = meter.CreateCounter<long>("cocoon.resumes", description: "Attempts that resumed an answer part of which was already delivered (the worker pre-fills it and writes only the rest).");
        meter.CreateObservableGauge("cocoon.workers_online", () => Volatile.Read(ref _workersOnline), description: "Workers that are registered and pass the gateway's policy.");
    }

    public void Refused(string reason) => _refusals.Add(1, new KeyValuePair<string, object?>("reason", _reasons[reason]));

    public void Redispatched() => _redispatches.Add(1);

    public void Resumed() => _resumes.Add(1);

    public void Job(string outcome) => _jobs.Add(1, new KeyValuePair<string, object?>("outcome", _outcomes[outcome]));

    public void Tokens(int prompt, int completion)
    {
        _tokens.Add(prompt, new KeyValuePair<string, object?>("kind", "prompt"));
        _tokens.Add(completion, new KeyValuePair<string, object?>("kind", "completion"));
    }

    public void CachedTokens(int cached)
    {
        _tokens.Add(cached, new KeyValuePair<string, object?>("kind", "cached"));
        _cache.Add(1, new KeyValuePair<string, object?>("event", cached > 0 ? "hit" : "miss"));
    }

    public void Affinity(bool hit) => _cache.Add(1, new KeyValuePair<string, object?>("event", hit ? "affinity-hit" : "affinity-miss"));

    public void FirstToken(TimeSpan elapsed) => _timeToFirstToken.Record(elapsed.TotalSeconds);

    public void Throughput(int completionTokens, TimeSpan generation)
    {
        if (completionTokens > 0 && generation > TimeSpan.Zero)
        {
            _tokensPerSecond.Record(completionTokens / generation.TotalSeconds);
        }
    }

    public void Enqueued() => Interlocked.Increment(ref _queued);

    public void Dequeued() => Interlocked.Decrement(ref _queued);

    /// <summary>Where the admission-queue depth gauge reads from.</summary>
    public void ObserveAdmissionQueue(Func<int> depth) => _waiting = depth;

    /// <summary>Outcome is a fixed vocabulary: served, queue-full, deadline, cancelled.</summary>
    public void Admission(string outcome, TimeSpan waited)
    {
        var tag = new KeyValuePair<string, object?>("outcome", outcome);
        _admissions.Add(1, tag);
        _admissionWait.Record(waited.TotalSeconds, tag);
    }

    public void WorkersOnline(int count) => Volatile.Write(ref _workersOnline, count);
}
