using System.Collections.Concurrent;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Every worker's reputation state (<see cref="ReputationState"/>), kept in one Redis hash (field = worker id, value =
/// the state's JSON) so that every gateway reads and updates the same record and a gateway restart loses nothing.
/// Redis rather than the ledger database: every gateway already shares it (registry, leases), an update follows every
/// job on the dispatch path and must cost one round trip, not a database transaction, and workers' ACL users cannot
/// read or write it (their keys are jobs:, worker:, leases:, results:). Updates are optimistic (a compare-and-set script
/// on the old value, retried): two gateways recording outcomes of the same worker at once never lose one.
/// The matcher reads scores from a local copy refreshed every Gateway:RegistryRefresh and written through on update,
/// so ranking never waits for Redis.
/// <para>Probation (<see cref="ProbationPolicy"/>) lives in the same record and changes in the same compare-and-set as
/// the score: any update that leaves a worker below Gateway:ReputationFloor puts it on probation, and only its canaries
/// (<see cref="RecordCanaryAsync"/>) bring it back or bar it. Provider records follow the score, never the probation.</para>
/// </summary>
public sealed partial class ReputationBook(
    IConnectionMultiplexer redis, RedisKeys keys, IOptions<DispatchOptions> options, TimeProvider time, ILogger<ReputationBook> logger,
    ProviderReputation? providers = null) : BackgroundService
{
    private readonly ConcurrentDictionary<string, ReputationState> _states = new(StringComparer.Ordinal);
    private readonly RecordCombiner _combiner = new();

    public ReputationModel Model { get; } = new(options.Value.Sla.Policy());

    public ProbationPolicy Probation { get; } = ProbationPolicy.Default;

    private double Floor => options.Value.ReputationFloor;

    private RedisKey Key => keys.Prefix + "reputation";

    /// <summary>The worker's score as this gateway last saw it (neutral for a worker without a record).</summary>
    public double Score(string workerId) => Model.Score(State(workerId)).Value;

    public ReputationState State(string workerId) => _states.TryGetValue(workerId, out var s) ? s : ReputationState.New;

    /// <summary>The worker's score and reasons, read from Redis (for the provider: never a stale copy).</summary>
    public async Task<ReputationScore> ReadAsync(string workerId, CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().HashGetAsync(Key, workerId).WaitAsync(cancellationToken).ConfigureAwait(false);
        var state = Parse(workerId, value);
        _states[workerId] = state;
        var score = Model.Score(state);
        return Probation.Reason(state.Probation, Floor) is { } reason ? score with { Reasons = [.. score.Reasons, reason] } : score;
    }

    /// <summary>
    /// Whether the matcher may offer the worker a job, as this gateway last saw its record: never when barred; not on
    /// probation either, unless the caller set a floor below the gateway's own (it then takes workers below the
    /// gateway's floor, judged by their score as before). Probation holds a worker out only while canaries run
    /// (Gateway:Canaries:Interval above zero): they are its only way back, so without them a worker below the floor
    /// is judged by its score alone, as before probation existed.
    /// </summary>
    public bool Matchable(string workerId, bool callerFloorBelowGateway = false) =>
        State(workerId).Probation switch
        {
            { Barred: true } => false,
            { Active: true } => callerFloorBelowGateway || !CanariesRun,
            _ => true,
        };

    private bool CanariesRun => options.Value.Canaries.Interval > TimeSpan.Zero;

    public bool Barred(string workerId) => State(workerId).Probation is { Barred: true };

    /// <summary>
    /// A canary's verdict (null when it gave none, e.g. the worker refused) and what it means for probation, in one
    /// update: a worker on probation moves along its streak, returns or is barred; one in good standing is put on
    /// probation when the verdict takes it below the floor.
    /// </summary>
    public Task<ReputationState> RecordCanaryAsync(string workerId, IntegrityVerdict? verdict, ProbationCanary canary, CancellationToken cancellationToken) =>
        UpdateAsync(
            workerId,
            s => verdict is null ? s : Model.Apply(s, verdict),
            cancellationToken,
            s => s.Probation is { Active: true } p ? Probation.Judge(p, canary, Model.Score(s).Value, Floor) : ProbationPolicy.Track(s.Probation, Model.Score(s).Value, Floor),
            followProviders: verdict is not null);

    public Task<ReputationState> RecordAsync(string workerId, JobOutcome outcome, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(outcome);
        return UpdateAsync(workerId, s => Model.Apply(s, outcome), cancellationToken);
    }

    public Task<ReputationState> RecordAsync(string workerId, IntegrityVerdict verdict, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(verdict);
        return UpdateAsync(workerId, s => Model.Apply(s, verdict), cancellationToken);
    }

    private async Task<ReputationState> UpdateAsync(
        string workerId, Func<ReputationState, ReputationState> apply, CancellationToken cancellationToken,
        Func<ReputationState, ProbationState?>? probation = null, bool followProviders = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        probation ??= s => ProbationPolicy.Track(s.Probation, Model.Score(s).Value, Floor);
        ProbationState? before = null;
        var next = await _combiner.UpdateAsync(
            redis.GetDatabase(), Key, workerId,
            s =>
            {
                before = s.Probation;
                var applied = apply(s);
                return applied with { Probation = probation(applied) };
            },
            e => LogUnreadable(logger, workerId, e), cancellationToken).ConfigureAwait(false);
        _states[workerId] = next;
        if (next.Probation is { } now && (now.Active != before?.Active || now.Barred != before?.Barred))
        {
            LogProbation(logger, workerId, now.Barred ? "barred" : now.Active ? "put on probation" : "back from probation", Model.Score(next).Value, now.Canaries);
        }

        if (providers is not null && followProviders)
        {
            // The same change to its provider's (and provider key's) record: a new worker id does not wash it off.
            await providers.FollowAsync(workerId, apply, cancellationToken).ConfigureAwait(false);
        }

        return next;
    }

    private ReputationState Parse(string workerId, RedisValue value) => ReputationRecords.Parse(value, e => LogUnreadable(logger, workerId, e));

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.RegistryRefresh, time);
        try
        {
            do
            {
                try
                {
                    foreach (var entry in await redis.GetDatabase().HashGetAllAsync(Key).WaitAsync(stoppingToken).ConfigureAwait(false))
                    {
                        _states[entry.Name.ToString()] = Parse(entry.Name.ToString(), entry.Value);
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException && !stoppingToken.IsCancellationRequested)
                {
                    // Keep the last copy: a moment-old score is the best guess while Redis is away.
                    LogRefreshFailed(logger, e);
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    [LoggerMessage(EventId = LogEvents.Reputation + 1, Level = LogLevel.Warning, Message = "The reputation record of {WorkerId} is unreadable; the worker starts over as new")]
    private static partial void LogUnreadable(ILogger logger, string workerId, Exception exception);

    [LoggerMessage(EventId = LogEvents.Reputation + 2, Level = LogLevel.Warning, Message = "Reading reputation from Redis failed; the last copy is used")]
    private static partial void LogRefreshFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = LogEvents.Reputation + 4, Level = LogLevel.Information, Message = "Worker {WorkerId} {Change} (score {Score:0.000}, {Canaries} probation canaries so far)")]
    private static partial void LogProbation(ILogger logger, string workerId, string change, double score, int canaries);

    [LoggerMessage(EventId = LogEvents.Reputation + 3, Level = LogLevel.Warning, Message = "Recording an outcome of {WorkerId} failed; it is lost")]
    public static partial void LogRecordFailed(ILogger logger, string workerId, Exception exception);
}
