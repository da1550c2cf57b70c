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

    /// <summary>
    /// Compare-and-set of one field in one round trip: writes ARGV[4] when the field holds ARGV[3] (or is missing, with
    /// ARGV[2] = 1) and returns {1}; otherwise returns {0, current} ({0} when missing), so a retry needs no read of its
    /// own. One key: fine on Redis Cluster.
    /// </summary>
    private const string CompareAndSetScript = """
        local cur = redis.call('HGET', KEYS[1], ARGV[1])
        if ARGV[2] == '1' then
          if cur then return {0, cur} end
        elseif cur ~= ARGV[3] then
          if cur then return {0, cur} end
          return {0}
        end
        redis.call('HSET', KEYS[1], ARGV[1], ARGV[4])
        return {1}
        """;

    /// <summary>
    /// Applies <paramref name="apply"/> to the field's state and writes it if nobody changed it meanwhile; retried with
    /// what the field held instead. <paramref name="known"/> is the field's value as this gateway last wrote or read it
    /// (null: read it first): a right guess saves the read, a wrong one costs a retry, never an outcome.
    /// </summary>
    /// <returns>The state written and its stored form (the next call's <paramref name="known"/>).</returns>
    /// <exception cref="TimeoutException">The record changed <see cref="MaxRetries"/> times while this gateway updated it.</exception>
    public static async Task<(ReputationState State, RedisValue Stored)> UpdateAsync(
        IDatabase db, RedisKey key, string field, Func<ReputationState, ReputationState> apply, Action<JsonException> unreadable, CancellationToken cancellationToken,
        RedisValue? known = null)
    {
        var old = known ?? await db.HashGetAsync(key, field).WaitAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < MaxRetries; i++)
        {
            var next = apply(Parse(old, unreadable));
            RedisValue json = next.ToJson();
            var reply = (RedisResult[])(await db.ScriptEvaluateAsync(
                CompareAndSetScript, [key], [field, old.IsNull ? 1 : 0, old.IsNull ? RedisValue.EmptyString : old, json]).WaitAsync(cancellationToken).ConfigureAwait(false))!;
            if ((int)reply[0] == 1)
            {
                return (next, json);
            }

            old = reply.Length > 1 ? (RedisValue)reply[1] : RedisValue.Null;
        }

        throw new TimeoutException($"The reputation record {field} changed {MaxRetries} times while this gateway updated it.");
    }
}
