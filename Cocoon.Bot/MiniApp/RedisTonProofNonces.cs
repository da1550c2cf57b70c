using Cocoon.Ledger.Ton;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.MiniApp;

/// <summary>
/// <c>ton_proof</c> payloads in Redis, so a proof issued by one gateway replica is checked by any other: one key per
/// (user, payload) that expires with the proof's maximum age, deleted by the check that consumes it (DEL answers 1
/// exactly once, however many replicas race).
/// </summary>
public sealed class RedisTonProofNonces(IConnectionMultiplexer redis, RedisKeys keys) : ITonProofNonces
{
    public Task IssueAsync(string subject, string payload, TimeSpan lifetime, CancellationToken cancellationToken) =>
        redis.GetDatabase().StringSetAsync(Key(subject, payload), 1, lifetime).WaitAsync(cancellationToken);

    public Task<bool> ConsumeAsync(string subject, string payload, CancellationToken cancellationToken) =>
        redis.GetDatabase().KeyDeleteAsync(Key(subject, payload)).WaitAsync(cancellationToken);

    // The payload is client-supplied at check time: only a 64-hex one can be ours, and nothing else becomes part of a key.
    private RedisKey Key(string subject, string payload) =>
        keys.Prefix + "miniapp:ton-proof:" + subject + ":" + (payload.Length == 64 && payload.All(char.IsAsciiHexDigitLower) ? payload : "invalid");
}
