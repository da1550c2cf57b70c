using System.Text.Json;
using Cocoon.Engine.Reputation;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// How reputation records live in a Redis hash (a worker's in <see cref="ReputationBook"/>, a provider's or provider
/// key's in <see cref="ProviderReputation"/>): one JSON <see cref="ReputationState"/> per field, changed by
/// compare-and-set so that gateways updating the same record at once never lose an outcome.
/// </summary>
internal static class ReputationRecords
{
    public const int MaxRetries = 16;

    /// <summary>A stored state; a missing one, or one this version cannot read, starts over as new (never a reason to stop serving).</summary>
    public static ReputationState Parse(RedisValue value, Action<JsonException> unreadable)
    {
        if (value.IsNullOrEmpty)
        {
            return ReputationState.New;
        }

        try
        {
            return ReputationState.FromJson(value.ToString());
        }
        catch (JsonException e)
        {
            unreadable(e);
            return ReputationState.New;
        }
    }

    /// <summary>Applies <paramref name="apply"/> to the field's state and writes it if nobody changed it meanwhile; retried.</summary>
    /// <exception cref="TimeoutException">The record changed <see cref="MaxRetries"/> times while this gateway updated it.</exception>
    public static async Task<ReputationState> UpdateAsync(
        IDatabase db, RedisKey key, string field, Func<ReputationState, ReputationState> apply, Action<JsonException> unreadable, CancellationToken cancellationToken)
    {
        for (var i = 0; i < MaxRetries; i++)
        {
            var old = await db.HashGetAsync(key, field).WaitAsync(cancellationToken).ConfigureAwait(false);
            var next = apply(Parse(old, unreadable));
            var transaction = db.CreateTransaction();
            transaction.AddCondition(old.IsNull ? Condition.HashNotExists(key, field) : Condition.HashEqual(key, field, old));
            _ = transaction.HashSetAsync(key, field, next.ToJson());
            if (await transaction.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                return next;
            }
        }

        throw new TimeoutException($"The reputation record {field} changed {MaxRetries} times while this gateway updated it.");
    }
}
