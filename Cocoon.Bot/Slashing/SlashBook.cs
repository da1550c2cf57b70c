using System.Text.Json;
using System.Text.Json.Serialization;
using Cocoon.Ledger.Stake;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.Slashing;

/// <summary>Where a slash stands: waiting for its chain transaction, applied by the stake contract, or refused by it.</summary>
public static class SlashStates
{
    public const string Pending = "pending";
    public const string Applied = "applied";
    public const string Refused = "refused";
}

/// <summary>
/// One slash: the evidence record (JSON, exactly the bytes whose SHA-256 is the reason hash sent to the contract), the
/// decided amounts, who is refunded, and its progress on chain.
/// </summary>
public sealed record SlashRecord
{
    public required string ReasonHash { get; init; }

    public required string FaultKey { get; init; }

    public required string Fault { get; init; }

    public required string ProviderId { get; init; }

    public required string ProviderAddress { get; init; }

    public required string WorkerId { get; init; }

    public required long Amount { get; init; }

    public required long ToUser { get; init; }

    public required long ToNetwork { get; init; }

    /// <summary>The ledger account refunded <see cref="ToUser"/>; null when no user was affected (a canary): the network gets it all.</summary>
    public string? Payer { get; init; }

    /// <summary>The evidence record the reason hash is the SHA-256 of.</summary>
    public required string Evidence { get; init; }

    public required long CreatedAtMs { get; init; }

    public string State { get; init; } = SlashStates.Pending;

    public SlashAttempt? Attempt { get; init; }

    /// <summary>When the first message was signed: the chain is searched back to it.</summary>
    public long? FirstSignedAtMs { get; init; }

    public string? TransactionHash { get; init; }

    /// <summary>The wallet's query id of the Slash message (from the reason hash).</summary>
    public ulong QueryId => BitConverter.ToUInt64(Convert.FromHexString(ReasonHash.AsSpan(0, 16)));
}

[JsonSourceGenerationOptions(JsonSerializerDefaults.Web)]
[JsonSerializable(typeof(SlashRecord))]
internal sealed partial class SlashJsonContext : JsonSerializerContext;

/// <summary>
/// Slashes in Redis, shared by every gateway: one hash field per slash (by reason hash), a fault-key index so a fault is
/// slashed once however many gateways or retries see it, a per-provider list for the provider's screens, and the set of
/// pending slashes the <see cref="SlashService"/> pushes on. Redis, as the reputation book: it is what every gateway
/// shares and workers' ACL users cannot reach; the ledger entries of a slash are keyed by its reason hash, so they too
/// happen once.
/// </summary>
/// <remarks>
/// Every key a transaction here touches carries the hash tag {slashes}, so on a Redis Cluster they share a slot (a
/// transaction across slots is refused there). Books written before the tag are moved once, at start
/// (<see cref="MoveLegacyAsync"/>).
/// </remarks>
public sealed class SlashBook(IConnectionMultiplexer redis, RedisKeys keys)
{
    private const string Tag = "{slashes}";

    private RedisKey Records => keys.Prefix + "slashes:" + Tag;

    private RedisKey Faults => keys.Prefix + "slashes:faults:" + Tag;

    private RedisKey PendingSet => keys.Prefix + "slashes:pending:" + Tag;

    private RedisKey Lock(string reasonHash) => keys.Prefix + "slashes:lock:" + reasonHash;

    private RedisKey ByProvider(string providerId) => keys.Prefix + "slashes:provider:" + Tag + ":" + providerId;

    /// <summary>
    /// Moves a book written under the untagged names (before the cluster's hash tags) to the tagged ones, one key at a
    /// time, so a pending slash is never forgotten on upgrade. Fields already under the new names win; it is idempotent.
    /// </summary>
    public async Task MoveLegacyAsync(CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        await MoveHashAsync(db, keys.Prefix + "slashes", Records, cancellationToken).ConfigureAwait(false);
        await MoveHashAsync(db, keys.Prefix + "slashes:faults", Faults, cancellationToken).ConfigureAwait(false);

        var pending = keys.Prefix + "slashes:pending";
        var members = await db.SetMembersAsync(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (members.Length > 0)
        {
            await db.SetAddAsync(PendingSet, members).WaitAsync(cancellationToken).ConfigureAwait(false);
            await db.KeyDeleteAsync(pending).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var legacyList = keys.Prefix + "slashes:provider:";
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var key in server.KeysAsync(db.Database, legacyList + "*").WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                var providerId = ((string)key!)[legacyList.Length..];
                if (providerId.StartsWith(Tag, StringComparison.Ordinal))
                {
                    continue; // already the tagged name
                }

                var hashes = await db.ListRangeAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
                if (hashes.Length > 0 && await db.ListLengthAsync(ByProvider(providerId)).WaitAsync(cancellationToken).ConfigureAwait(false) == 0)
                {
                    await db.ListRightPushAsync(ByProvider(providerId), hashes).WaitAsync(cancellationToken).ConfigureAwait(false);
                }

                await db.KeyDeleteAsync(key).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static async Task MoveHashAsync(IDatabase db, RedisKey from, RedisKey to, CancellationToken cancellationToken)
    {
        if (await db.KeyTypeAsync(from).WaitAsync(cancellationToken).ConfigureAwait(false) != RedisType.Hash)
        {
            return;
        }

        foreach (var entry in await db.HashGetAllAsync(from).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            await db.HashSetAsync(to, entry.Name, entry.Value, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        await db.KeyDeleteAsync(from).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores a new slash unless its fault was slashed before; returns the stored record (the earlier one if so).</summary>
    public async Task<(SlashRecord Record, bool Created)> CreateAsync(SlashRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var db = redis.GetDatabase();
        if (!await db.HashSetAsync(Faults, record.FaultKey, record.ReasonHash, When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false))
        {
            var existing = (string?)await db.HashGetAsync(Faults, record.FaultKey).WaitAsync(cancellationToken).ConfigureAwait(false);
            return (existing is not null && await GetAsync(existing, cancellationToken).ConfigureAwait(false) is { } earlier ? earlier : record, false);
        }

        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(Records, record.ReasonHash, Serialize(record));
        _ = tx.SetAddAsync(PendingSet, record.ReasonHash);
        _ = tx.ListLeftPushAsync(ByProvider(record.ProviderId), record.ReasonHash);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return (record, true);
    }

    public async Task<SlashRecord?> GetAsync(string reasonHash, CancellationToken cancellationToken)
    {
        var value = await redis.GetDatabase().HashGetAsync(Records, reasonHash).WaitAsync(cancellationToken).ConfigureAwait(false);
        return value.IsNullOrEmpty ? null : JsonSerializer.Deserialize((string)value!, SlashJsonContext.Default.SlashRecord);
    }

    public async Task SaveAsync(SlashRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.HashSetAsync(Records, record.ReasonHash, Serialize(record));
        _ = record.State == SlashStates.Pending ? tx.SetAddAsync(PendingSet, record.ReasonHash) : tx.SetRemoveAsync(PendingSet, record.ReasonHash);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<IReadOnlyList<string>> PendingAsync(CancellationToken cancellationToken) =>
        [.. (await redis.GetDatabase().SetMembersAsync(PendingSet).WaitAsync(cancellationToken).ConfigureAwait(false)).Select(v => (string)v!)];

    /// <summary>The provider's slashes, newest first (at most <paramref name="limit"/>).</summary>
    public async Task<IReadOnlyList<SlashRecord>> ForProviderAsync(string providerId, int limit, CancellationToken cancellationToken)
    {
        var hashes = await redis.GetDatabase().ListRangeAsync(ByProvider(providerId), 0, limit - 1).WaitAsync(cancellationToken).ConfigureAwait(false);
        var records = new List<SlashRecord>(hashes.Length);
        foreach (var h in hashes)
        {
            if (await GetAsync(h!, cancellationToken).ConfigureAwait(false) is { } r)
            {
                records.Add(r);
            }
        }

        return records;
    }

    /// <summary>A short lock so only one gateway at a time signs or settles a slash (two live messages for one slash could both execute).</summary>
    public Task<bool> TryLockAsync(string reasonHash, string owner, TimeSpan ttl) =>
        redis.GetDatabase().StringSetAsync(Lock(reasonHash), owner, ttl, When.NotExists);

    public Task ReleaseAsync(string reasonHash, string owner) =>
        redis.GetDatabase().ScriptEvaluateAsync(
            "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end",
            [Lock(reasonHash)], [owner]);

    private static string Serialize(SlashRecord record) => JsonSerializer.Serialize(record, SlashJsonContext.Default.SlashRecord);
}
