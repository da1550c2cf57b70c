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
/// read or write it (their keys are jobs:, worker:, leases:, results:). Updates are optimistic (WATCH-style condition
/// on the old value, retried): two gateways recording outcomes of the same worker at once never lose one.
/// The matcher reads scores from a local copy refreshed every Gateway:RegistryRefresh and written through on update,
/// so ranking never waits for Redis.
/// </summary>
public sealed partial class ReputationBook(
    IConnectionMultiplexer redis, RedisKeys keys, IOptions<DispatchOptions> options, TimeProvider time, ILogger<ReputationBook> logger,
    ProviderReputation? providers = null) : BackgroundService
{
    private readonly ConcurrentDictionary<string, ReputationState> _states = new(StringComparer.Ordinal);

    public ReputationModel Model { get; } = new(options.Value.Sla.Policy());

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
        return Model.Score(state);
    }

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

    private async Task<ReputationState> UpdateAsync(string workerId, Func<ReputationState, ReputationState> apply, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        var next = await ReputationRecords.UpdateAsync(redis.GetDatabase(), Key, workerId, apply, e => LogUnreadable(logger, workerId, e), cancellationToken).ConfigureAwait(false);
        _states[workerId] = next;
        if (providers is not null)
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

    [LoggerMessage(EventId = LogEvents.Reputation + 3, Level = LogLevel.Warning, Message = "Recording an outcome of {WorkerId} failed; it is lost")]
    public static partial void LogRecordFailed(ILogger logger, string workerId, Exception exception);
}
