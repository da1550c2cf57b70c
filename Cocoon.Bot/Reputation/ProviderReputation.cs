using System.Collections.Concurrent;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Reputation;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Reputation that follows the provider, not only the worker id: a worker id costs nothing, so a penalised provider
/// could otherwise re-join under a new one and start neutral. Every outcome and verdict recorded for a joined worker is
/// applied, with the same model, to a record of its provider and one of the provider key that certified it (Redis hash
/// "reputation-providers", fields "provider:{id}" and "key:{hex}"; workers' ACL users cannot touch it). When a worker id
/// joins without a record of its own, it starts from the worse of those two records if that scores below neutral; a
/// provider in good standing gives its new workers nothing (they earn their place as before).
/// Which provider and key a worker id belongs to is kept in "reputation-owners" (field = worker id), written at join,
/// so the link outlives the join record and is the same for every gateway.
/// </summary>
public sealed partial class ProviderReputation(
    IConnectionMultiplexer redis, RedisKeys keys, IOptions<DispatchOptions> options, ILogger<ProviderReputation> logger)
{
    private readonly ConcurrentDictionary<string, (string ProviderId, string? Key)> _owners = new(StringComparer.Ordinal);

    // Worker ids found without an owner (the local provider's, which never join), until when (Environment.TickCount64)
    // that answer is trusted: without it every outcome of such a worker cost an HGET (`./cocoon bench dispatch`, session 7).
    // A worker id joins before it serves, so a later join is unlikely; re-reading after Gateway:RegistryRefresh bounds it.
    private readonly ConcurrentDictionary<string, long> _ownerless = new(StringComparer.Ordinal);

    private readonly ReputationModel _model = new(options.Value.Sla.Policy());
    private readonly RecordCombiner _combiner = new();

    private RedisKey Records => keys.Prefix + "reputation-providers";

    private RedisKey Owners => keys.Prefix + "reputation-owners";

    /// <summary>The per-worker hash <see cref="ReputationBook"/> keeps.</summary>
    private RedisKey Workers => keys.Prefix + "reputation";

    public static string ProviderField(string providerId) => "provider:" + providerId;

    public static string KeyField(string providerKeyHex) => "key:" + providerKeyHex.ToLowerInvariant();

    /// <summary>
    /// Links a joining worker id to its provider and certifying key, and seeds a worker id without a record of its own
    /// from a below-neutral provider or key record. Returns the state the worker starts from (New when neutral).
    /// </summary>
    public async Task<ReputationState> BindAsync(string workerId, string providerId, string? providerKeyHex, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(workerId);
        ArgumentException.ThrowIfNullOrEmpty(providerId);
        var db = redis.GetDatabase();
        await db.HashSetAsync(Owners, workerId, providerId + " " + (providerKeyHex ?? string.Empty)).WaitAsync(cancellationToken).ConfigureAwait(false);
        _owners[workerId] = (providerId, providerKeyHex);
        _ownerless.TryRemove(workerId, out _);

        var neutral = _model.Score(ReputationState.New).Value;
        ReputationState? worst = null;
        foreach (var field in Fields(providerId, providerKeyHex))
        {
            var state = Parse(field, await db.HashGetAsync(Records, field).WaitAsync(cancellationToken).ConfigureAwait(false));
            if (_model.Score(state).Value < Math.Min(neutral, worst is null ? double.MaxValue : _model.Score(worst).Value))
            {
                worst = state;
            }
        }

        if (worst is null)
        {
            return ReputationState.New;
        }

        // Only a worker id without a record starts from it: an existing worker keeps its own history.
        if (await db.HashSetAsync(Workers, workerId, worst.ToJson(), When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            LogSeeded(logger, workerId, providerId, _model.Score(worst).Value);
            return worst;
        }

        return ReputationState.New;
    }

    /// <summary>The provider's record (and its key's, when one certified the worker), for /provider status and tests.</summary>
    public async Task<ReputationScore> ReadAsync(string field, CancellationToken cancellationToken) =>
        _model.Score(Parse(field, await redis.GetDatabase().HashGetAsync(Records, field).WaitAsync(cancellationToken).ConfigureAwait(false)));

    /// <summary>
    /// Applies what was just applied to the worker's record to its provider's and key's records too (nothing for a
    /// worker that never joined, e.g. the local provider's).
    /// </summary>
    public async Task FollowAsync(string workerId, Func<ReputationState, ReputationState> apply, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(apply);
        if (!_owners.TryGetValue(workerId, out var owner))
        {
            if (_ownerless.TryGetValue(workerId, out var until) && Environment.TickCount64 < until)
            {
                return;
            }

            RedisValue value;
            try
            {
                value = await redis.GetDatabase().HashGetAsync(Owners, workerId).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogFollowFailed(logger, workerId, "?", e);
                return;
            }

            if (value.IsNullOrEmpty)
            {
                _ownerless[workerId] = Environment.TickCount64 + (long)options.Value.RegistryRefresh.TotalMilliseconds;
                return;
            }

            var parts = value.ToString().Split(' ', 2);
            owner = (parts[0], parts.Length > 1 && parts[1].Length > 0 ? parts[1] : null);
            _owners[workerId] = owner;
        }

        try
        {
            foreach (var field in Fields(owner.ProviderId, owner.Key))
            {
                await UpdateAsync(field, apply, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The worker's own record is written; the provider's misses one data point.
            LogFollowFailed(logger, workerId, owner.ProviderId, e);
        }
    }

    private static IEnumerable<string> Fields(string providerId, string? providerKeyHex)
    {
        yield return ProviderField(providerId);
        if (!string.IsNullOrEmpty(providerKeyHex))
        {
            yield return KeyField(providerKeyHex);
        }
    }

    private Task<ReputationState> UpdateAsync(string field, Func<ReputationState, ReputationState> apply, CancellationToken cancellationToken) =>
        _combiner.UpdateAsync(redis.GetDatabase(), Records, field, apply, e => LogUnreadable(logger, field, e), cancellationToken);

    private ReputationState Parse(string field, RedisValue value) => ReputationRecords.Parse(value, e => LogUnreadable(logger, field, e));

    [LoggerMessage(EventId = LogEvents.Reputation + 90, Level = LogLevel.Information, Message = "Worker {WorkerId} of provider {ProviderId} starts from its provider's reputation ({Score:0.000}), not neutral")]
    private static partial void LogSeeded(ILogger logger, string workerId, string providerId, double score);

    [LoggerMessage(EventId = LogEvents.Reputation + 92, Level = LogLevel.Warning, Message = "Recording an outcome of {WorkerId} for provider {ProviderId} failed; the provider's record misses it")]
    private static partial void LogFollowFailed(ILogger logger, string workerId, string providerId, Exception exception);

    [LoggerMessage(EventId = LogEvents.Reputation + 91, Level = LogLevel.Warning, Message = "The provider reputation record {Field} is unreadable; it starts over as new")]
    private static partial void LogUnreadable(ILogger logger, string field, Exception exception);
}
