using System.Globalization;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Network.Access;

/// <summary>Where a worker stands with the network, as its provider sees it.</summary>
public static class JoinStates
{
    /// <summary>Joined: has its Redis user and may serve.</summary>
    public const string Joined = "joined";

    /// <summary>Its provider is paused: the Redis user is off until the provider resumes.</summary>
    public const string Paused = "paused";

    /// <summary>Its token or provider key was revoked, or its certificate expired (Reason says which): the Redis user is gone.</summary>
    public const string Revoked = "revoked";

    /// <summary>The join (or a later check of its registration) was refused; the reason says why.</summary>
    public const string Refused = "refused";
}

/// <summary>
/// A worker's join record. The gateway writes it; the worker's own Redis user cannot read or write it. SigningKey pins
/// the worker id to the key that signed its join document: registrations signed by another key are refused.
/// CertificateKey and CertificateExpires: the provider key that certified the worker and until when (null: none).
/// </summary>
public sealed record JoinRecord(
    string WorkerId,
    string ProviderId,
    string SigningKeyHex,
    string State,
    string? Reason,
    string? Detail,
    string? TeeKind,
    string? ModelName,
    DateTimeOffset UpdatedAt,
    string? CertificateKey = null,
    DateTimeOffset? CertificateExpires = null)
{
    public bool Pinned => SigningKeyHex.Length > 0;
}

/// <summary>Join records in Redis: pinning, state changes and refusals, per worker and per provider.</summary>
public sealed class WorkerJoins(IConnectionMultiplexer redis, RedisKeys keys, TimeProvider time)
{
    // Pins atomically: an existing pin with another key, or another provider's record, is kept and reported.
    // Returns 1 when pinned, 0 when the id is taken by another key of a live worker or by another provider.
    private const string PinScript = """
        local owner = redis.call('HGET', KEYS[1], 'provider')
        local key = redis.call('HGET', KEYS[1], 'key')
        if owner and owner ~= ARGV[1] and key and key ~= '' then return 0 end
        if key and key ~= '' and key ~= ARGV[2] and ARGV[7] == '1' then return 0 end
        redis.call('HSET', KEYS[1], 'provider', ARGV[1], 'key', ARGV[2], 'state', 'joined', 'reason', '', 'detail', '',
          'tee', ARGV[3], 'model', ARGV[4], 'updated', ARGV[5], 'pkey', ARGV[8], 'certexp', ARGV[9])
        redis.call('SADD', KEYS[2], ARGV[6])
        redis.call('SADD', KEYS[3], ARGV[6])
        return 1
        """;

    /// <summary>Binds the worker id to the provider and the signing key; false when the id belongs to someone else now.</summary>
    public Task<bool> PinAsync(string workerId, string providerId, byte[] signingKey, string teeKind, string modelName, CancellationToken cancellationToken) =>
        PinAsync(workerId, providerId, signingKey, teeKind, modelName, null, null, cancellationToken);

    /// <summary>As above, with the provider key that certified the worker and the certificate's expiry.</summary>
    public async Task<bool> PinAsync(
        string workerId, string providerId, byte[] signingKey, string teeKind, string modelName,
        string? certificateKey, DateTimeOffset? certificateExpires, CancellationToken cancellationToken)
    {
        // Whether the worker's registry entry is live is read first: it lives in the worker's slot, the join records in
        // the shared one, and a Redis Cluster script may touch one slot only. An entry that appears or lapses between
        // the two steps is one heartbeat's difference, and every registry read checks the worker's signing key against the pin.
        var db = redis.GetDatabase();
        var live = await db.KeyExistsAsync(keys.Worker(workerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = await db.ScriptEvaluateAsync(PinScript,
            [keys.Join(workerId), keys.ProviderWorkers(providerId), keys.Joined],
            [providerId, Convert.ToHexStringLower(signingKey), teeKind, modelName, Now(), workerId, live ? "1" : "0",
                certificateKey ?? string.Empty, certificateExpires?.ToUnixTimeMilliseconds() ?? 0]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)result == 1;
    }

    /// <summary>
    /// Records why a worker was refused, for its provider's /provider status. A record pinned by another provider is
    /// left alone (a refusal must not let one provider overwrite another's worker).
    /// </summary>
    public async Task RecordRefusalAsync(string workerId, string providerId, string reason, string detail, CancellationToken cancellationToken)
    {
        var existing = await GetAsync(workerId, cancellationToken).ConfigureAwait(false);
        if (existing is not null && existing.ProviderId != providerId)
        {
            return;
        }

        var db = redis.GetDatabase();
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(keys.Join(workerId),
        [
            new("provider", providerId), new("state", existing is { Pinned: true, State: not JoinStates.Joined } ? existing.State : JoinStates.Refused),
            new("reason", reason), new("detail", detail), new("updated", Now()),
        ]);
        _ = tx.SetAddAsync(keys.ProviderWorkers(providerId), workerId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public Task SetStateAsync(string workerId, string state, string? reason, string? detail, CancellationToken cancellationToken) =>
        redis.GetDatabase().HashSetAsync(keys.Join(workerId),
            [new("state", state), new("reason", reason ?? string.Empty), new("detail", detail ?? string.Empty), new("updated", Now())])
            .WaitAsync(cancellationToken);

    public async Task<JoinRecord?> GetAsync(string workerId, CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(keys.Join(workerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return entries.Length == 0 ? null : FromHash(workerId, entries);
    }

    /// <summary>Every worker that joined or tried to for the provider, newest first.</summary>
    public async Task<IReadOnlyList<JoinRecord>> ListByProviderAsync(string providerId, CancellationToken cancellationToken)
    {
        var ids = await redis.GetDatabase().SetMembersAsync(keys.ProviderWorkers(providerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<JoinRecord>(ids.Length);
        foreach (var id in ids)
        {
            if (await GetAsync(id!, cancellationToken).ConfigureAwait(false) is { } record && record.ProviderId == providerId)
            {
                result.Add(record);
            }
        }

        return [.. result.OrderByDescending(r => r.UpdatedAt)];
    }

    /// <summary>Forgets the worker (it left or was cleaned up).</summary>
    public async Task RemoveAsync(string workerId, string providerId, CancellationToken cancellationToken)
    {
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.KeyDeleteAsync(keys.Join(workerId));
        _ = tx.SetRemoveAsync(keys.ProviderWorkers(providerId), workerId);
        _ = tx.SetRemoveAsync(keys.Joined, workerId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Ids of every worker currently joined (the gateway sweeps those whose registry entry is long gone).</summary>
    public async Task<IReadOnlyList<string>> ListJoinedAsync(CancellationToken cancellationToken) =>
        [.. (await redis.GetDatabase().SetMembersAsync(keys.Joined).WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (string)v!)];

    private RedisValue Now() => time.GetUtcNow().ToUnixTimeMilliseconds();

    private static JoinRecord FromHash(string workerId, HashEntry[] entries)
    {
        var map = entries.ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? string.Empty);
        string? Optional(string name) => map.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        return new JoinRecord(
            workerId,
            Optional("provider") ?? string.Empty,
            Optional("key") ?? string.Empty,
            Optional("state") ?? JoinStates.Refused,
            Optional("reason"),
            Optional("detail"),
            Optional("tee"),
            Optional("model"),
            DateTimeOffset.FromUnixTimeMilliseconds(Optional("updated") is { } t ? long.Parse(t, CultureInfo.InvariantCulture) : 0),
            Optional("pkey"),
            Optional("certexp") is { } e && long.Parse(e, CultureInfo.InvariantCulture) is > 0 and var ms ? DateTimeOffset.FromUnixTimeMilliseconds(ms) : null);
    }
}
