namespace Cocoon.Engine.Matching;

/// <summary>Service level a worker qualifies for, or a job requires. Higher is stricter; a worker serves its class and below.</summary>
public enum SlaClass
{
    BestEffort = 0,
    Standard = 1,
    Premium = 2,
}

/// <summary>A worker as the registry sees it at one instant: identity, what it serves, its price and its live load.</summary>
public sealed record WorkerSnapshot
{
    public required string WorkerId { get; init; }

    public required string ProviderId { get; init; }

    public required string ModelName { get; init; }

    public required string ModelSha256 { get; init; }

    /// <summary>Set by the network (operator action, failed spot-check): never matched.</summary>
    public bool Disabled { get; init; }

    /// <summary>Set by the provider (draining for an update): never matched.</summary>
    public bool Paused { get; init; }

    public int RunningJobs { get; init; }

    public int MaxConcurrency { get; init; } = 1;

    /// <summary>Recent average job time; zero while the worker has no history, which puts a new worker first, as in the reference network.</summary>
    public TimeSpan AverageJobTime { get; init; }

    /// <summary>Price multiplier in thousandths (1000 = 1.0x).</summary>
    public int PriceCoefficient { get; init; } = 1000;

    public SlaClass SlaClass { get; init; } = SlaClass.BestEffort;

    public string Region { get; init; } = "";

    /// <summary>0..1; a constant 1.0 until the market computes scores.</summary>
    public double Reputation { get; init; } = 1.0;

    /// <summary>Tokens of context one request may fill (prompt and answer), from the attestation; 0 when not stated.</summary>
    public int ContextLength { get; init; }

    /// <summary>The worker's trust tier (<see cref="TrustTiers"/>), from what the gateway verified.</summary>
    public string Tier { get; init; } = TrustTiers.Tee;

    /// <summary>Its provider's bonded stake on chain, in nanotons (0 when none or not read).</summary>
    public long Stake { get; init; }

    public bool IsFull => RunningJobs >= MaxConcurrency;

    /// <summary>Expected wait before this worker could start another job: running jobs x average job time.</summary>
    public double LoadScore => Math.Max(0, RunningJobs) * Math.Max(0, AverageJobTime.TotalMilliseconds);
}

/// <summary>What a job needs. <see cref="Model"/> matches a worker's model name or its SHA-256.</summary>
public sealed record JobSpec
{
    public required string Model { get; init; }

    /// <summary>Highest price coefficient the caller accepts (1000 = 1.0x).</summary>
    public int MaxCoefficient { get; init; } = int.MaxValue;

    public SlaClass SlaClass { get; init; } = SlaClass.BestEffort;

    /// <summary>Workers here rank first whenever one of them has room; others remain eligible.</summary>
    public string? PreferredRegion { get; init; }

    public double ReputationFloor { get; init; }

    /// <summary>Workers not to use, e.g. the one that just failed this job before a re-dispatch.</summary>
    public IReadOnlyCollection<string> ExcludedWorkers { get; init; } = [];

    /// <summary>
    /// Workers that already failed this job: left out while any other worker qualifies (even a full one), used
    /// again only when nobody else is left.
    /// </summary>
    public IReadOnlyCollection<string> FailedWorkers { get; init; } = [];

    /// <summary>Tokens of context the job needs at least (prompt and max_tokens); a worker that states less is left out.</summary>
    public int RequiredContext { get; init; }

    /// <summary>
    /// The worker that served this conversation's previous turn and may still hold its prefix cache: ranked first
    /// among the workers that qualify and have room. Only an order: it never lets in a worker another rule leaves out.
    /// </summary>
    public string? CacheAffinity { get; init; }

    /// <summary>
    /// Trust tiers the caller accepts (<see cref="TrustTiers"/>); null accepts any. A worker of another tier is never
    /// matched, not even as a last resort: a consumer worker never sees a job from a caller who did not opt in.
    /// </summary>
    public IReadOnlyCollection<string>? AcceptedTiers { get; init; }

    /// <summary>
    /// The provider stake (nanotons) a worker of each listed tier needs for this job; tiers not listed need none, and
    /// null checks no stake at all (no stake contract configured).
    /// </summary>
    public IReadOnlyDictionary<string, long>? MinimumStakeByTier { get; init; }
}

public enum MatchOutcome
{
    /// <summary><see cref="MatchResult.Ranked"/> holds at least one worker, best first.</summary>
    Matched,

    /// <summary>Workers would qualify, but every one of them is at its concurrency cap: retry later.</summary>
    Busy,

    /// <summary>No worker qualifies at all (model, price, SLA, reputation, availability).</summary>
    NoWorker,
}

/// <summary>Why one worker was left out; a worker is reported under the first rule it fails, in the order the matcher checks them (model, tier, context, disabled, paused, excluded, failed before, price, SLA, stake, reputation, full).</summary>
public enum MatchExclusion
{
    OtherModel,
    Disabled,
    Paused,
    Excluded,
    OverPrice,
    BelowSla,
    BelowReputation,
    Full,
    ContextTooSmall,
    FailedBefore,

    /// <summary>The worker's trust tier is not one the caller accepts (checked right after the model).</summary>
    TierNotAccepted,

    /// <summary>Its provider's stake is below what the job needs in the worker's tier (checked after the SLA class).</summary>
    BelowStake,
}

public sealed record ExcludedWorker(string WorkerId, MatchExclusion Reason);

public sealed record MatchResult(MatchOutcome Outcome, IReadOnlyList<WorkerSnapshot> Ranked, IReadOnlyList<ExcludedWorker> Excluded, TimeSpan? RetryAfter)
{
    public WorkerSnapshot? Best => Ranked.Count > 0 ? Ranked[0] : null;

    /// <summary>
    /// Workers that qualify but were at their cap in the snapshot, least loaded first. The snapshot is a moment old,
    /// so one of them may have a slot free by now: they are tried after <see cref="Ranked"/>.
    /// </summary>
    public IReadOnlyList<WorkerSnapshot> Full { get; init; } = [];

    /// <summary>The order in which a slot is claimed: <see cref="Ranked"/>, then <see cref="Full"/>.</summary>
    public IEnumerable<WorkerSnapshot> ClaimOrder => Ranked.Concat(Full);

    /// <summary>The largest context among the model's workers left out only for their context (0 when none was).</summary>
    public int LargestTooSmallContext { get; init; }
}

/// <summary>
/// Chooses workers for a job. Baseline as in the reference network: same model, not disabled, under its concurrency
/// cap, price coefficient within the caller's maximum, lowest running x average job time first. On top: context size,
/// SLA class, reputation floor (and reputation as a tie-break), a preferred region, and workers that failed the job
/// used only as a last resort. A cache affinity (the worker of the conversation's previous turn) ranks first when it
/// qualifies and has room. Pure: snapshots in, ranking out; the caller claims slots in <see cref="MatchResult.ClaimOrder"/>.
/// </summary>
public static class Matcher
{
    /// <summary>Busy with no timing history to estimate from: tell the caller to come back in a second.</summary>
    public static readonly TimeSpan DefaultRetryAfter = TimeSpan.FromSeconds(1);

    public static MatchResult Rank(JobSpec job, IReadOnlyList<WorkerSnapshot> workers)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(workers);
        var result = RankOnce(job, workers);
        return result.Outcome == MatchOutcome.NoWorker && job.FailedWorkers.Count > 0
            ? RankOnce(job with { FailedWorkers = [] }, workers)
            : result;
    }

    private static MatchResult RankOnce(JobSpec job, IReadOnlyList<WorkerSnapshot> workers)
    {
        var excludedIds = job.ExcludedWorkers.Count == 0 ? null : new HashSet<string>(job.ExcludedWorkers, StringComparer.Ordinal);
        var failedIds = job.FailedWorkers.Count == 0 ? null : new HashSet<string>(job.FailedWorkers, StringComparer.Ordinal);
        var largestTooSmall = 0;
        var eligible = new List<WorkerSnapshot>();
        var excluded = new List<ExcludedWorker>();
        var full = new List<WorkerSnapshot>();
        foreach (var worker in workers)
        {
            var reason = Exclude(job, worker, excludedIds, failedIds);
            if (reason is null)
            {
                eligible.Add(worker);
                continue;
            }

            excluded.Add(new ExcludedWorker(worker.WorkerId, reason.Value));
            if (reason == MatchExclusion.Full)
            {
                full.Add(worker);
            }
            else if (reason == MatchExclusion.ContextTooSmall)
            {
                largestTooSmall = Math.Max(largestTooSmall, worker.ContextLength);
            }
        }

        var fullRanked = full.OrderBy(w => w.LoadScore).ThenBy(w => w.RunningJobs).ThenBy(w => w.WorkerId, StringComparer.Ordinal).ToArray();
        if (eligible.Count == 0)
        {
            return full.Count > 0
                ? new MatchResult(MatchOutcome.Busy, [], excluded, EstimateRetryAfter(full)) { Full = fullRanked, LargestTooSmallContext = largestTooSmall }
                : new MatchResult(MatchOutcome.NoWorker, [], excluded, null) { LargestTooSmallContext = largestTooSmall };
        }

        var preferred = string.IsNullOrEmpty(job.PreferredRegion) ? null : job.PreferredRegion;
        var ranked = eligible
            .OrderBy(w => job.CacheAffinity is { } affinity && string.Equals(w.WorkerId, affinity, StringComparison.Ordinal) ? 0 : 1)
            .ThenBy(w => preferred is not null && string.Equals(w.Region, preferred, StringComparison.OrdinalIgnoreCase) ? 0 : 1)
            .ThenBy(w => w.LoadScore)
            .ThenBy(w => w.PriceCoefficient)
            .ThenBy(w => (double)w.RunningJobs / w.MaxConcurrency)
            .ThenByDescending(w => w.Reputation)
            .ThenBy(w => w.WorkerId, StringComparer.Ordinal)
            .ToArray();
        return new MatchResult(MatchOutcome.Matched, ranked, excluded, null) { Full = fullRanked, LargestTooSmallContext = largestTooSmall };
    }

    private static MatchExclusion? Exclude(JobSpec job, WorkerSnapshot worker, HashSet<string>? excludedIds, HashSet<string>? failedIds)
    {
        if (!string.Equals(worker.ModelName, job.Model, StringComparison.Ordinal)
            && !string.Equals(worker.ModelSha256, job.Model, StringComparison.OrdinalIgnoreCase))
        {
            return MatchExclusion.OtherModel;
        }

        if (job.AcceptedTiers is { } tiers && !tiers.Contains(worker.Tier, StringComparer.Ordinal))
        {
            return MatchExclusion.TierNotAccepted;
        }

        // A context the worker does not state (older documents) is not held against it: the worker's own count decides.
        if (worker.ContextLength > 0 && job.RequiredContext > worker.ContextLength)
        {
            return MatchExclusion.ContextTooSmall;
        }

        if (worker.Disabled)
        {
            return MatchExclusion.Disabled;
        }

        if (worker.Paused)
        {
            return MatchExclusion.Paused;
        }

        if (excludedIds?.Contains(worker.WorkerId) == true)
        {
            return MatchExclusion.Excluded;
        }

        if (failedIds?.Contains(worker.WorkerId) == true)
        {
            return MatchExclusion.FailedBefore;
        }

        if (worker.PriceCoefficient > job.MaxCoefficient)
        {
            return MatchExclusion.OverPrice;
        }

        if (worker.SlaClass < job.SlaClass)
        {
            return MatchExclusion.BelowSla;
        }

        if (job.MinimumStakeByTier is { } stakes && stakes.TryGetValue(worker.Tier, out var minimum) && worker.Stake < minimum)
        {
            return MatchExclusion.BelowStake;
        }

        // NaN never passes a floor.
        if (!(worker.Reputation >= job.ReputationFloor))
        {
            return MatchExclusion.BelowReputation;
        }

        return worker.IsFull ? MatchExclusion.Full : null;
    }

    /// <summary>The soonest a full worker is expected to free a slot: its average job time (it runs jobs in parallel).</summary>
    private static TimeSpan EstimateRetryAfter(List<WorkerSnapshot> full)
    {
        var known = full.Where(w => w.AverageJobTime > TimeSpan.Zero).Select(w => w.AverageJobTime).ToArray();
        return known.Length == 0 ? DefaultRetryAfter : known.Min();
    }
}
