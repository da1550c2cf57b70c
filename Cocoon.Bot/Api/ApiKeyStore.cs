using Cocoon.Bot.Hosting;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Data;
using Cocoon.Network.Transport;
using Microsoft.EntityFrameworkCore;
using StackExchange.Redis;

namespace Cocoon.Bot.Api;

/// <summary>An API key as its owner sees it in a listing: never the key itself, only its id.</summary>
public sealed record ApiKeyInfo(string KeyId, AccountId Owner, DateTimeOffset CreatedAt);

/// <summary>
/// Bearer keys for the <c>/v1</c> API, kept in the ledger database (table ApiKeys) only as SHA-256 hashes: which
/// account pays for a key is money state, so it is not in Redis, where workers connect; and a leaked database dump
/// lets no one call the API. The key carries 256 random bits, so an unsalted hash is enough (no dictionary to attack).
/// </summary>
/// <remarks>
/// Keys made before the move lived in Redis (<c>apikey:hash:{sha256}</c>, <c>apikey:id:{id}</c>,
/// <c>apikey:owner:{owner}</c> under the network's prefix). The first use after start copies any of those into the
/// database and deletes them from Redis, so existing keys keep working.
/// <para>
/// Every <c>/v1</c> request checks its key, so a key found in the database is remembered (by its hash, never the key)
/// for <see cref="VerifiedKeyTtl"/>: a revocation takes effect at once on the gateway that made it and within that
/// time on every other gateway sharing the database. Unknown keys are not remembered (a key created on another gateway
/// works at once).
/// </para>
/// </remarks>
public sealed class ApiKeyStore(LedgerDatabase database, IConnectionMultiplexer redis, RedisKeys keys, TimeProvider time)
{
    /// <summary>Prefix of every key handed out, so a leaked key is recognisable by secret scanners.</summary>
    public const string KeyPrefix = "sk-cocoon-";

    /// <summary>How long a verified key is used without asking the database again: the longest a revocation made on another gateway takes to apply here.</summary>
    public static readonly TimeSpan VerifiedKeyTtl = TimeSpan.FromSeconds(5);

    // Bounds the memory of keys seen; past it the cache starts over (the database stays the truth).
    private const int MaxVerifiedKeys = 10_000;

    private readonly ConcurrentDictionary<string, (AccountId Owner, long VerifiedAt)> _verified = new(StringComparer.Ordinal);
    private long _revocations; // a check that overlapped a revocation here does not remember its answer
    private ReadyOnce? _ready;

    /// <summary>Creates a new key for the owner. The plaintext key is returned once and never stored.</summary>
    public async Task<(string Key, string KeyId)> CreateAsync(AccountId owner, CancellationToken cancellationToken)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        await RegisterAsync(HashKey(key), keyId, owner, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
        return (key, keyId);
    }

    /// <summary>
    /// Registers a key chosen elsewhere (the local developer key from <c>COCOON_API_KEY</c>) under a fixed id.
    /// Idempotent: registering the same key again changes nothing; a different key under the same id replaces it.
    /// </summary>
    public async Task ImportAsync(string key, string keyId, AccountId owner, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(keyId);
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        var hash = HashKey(key);
        await using (var db = database.CreateContext())
        {
            var existing = await db.ApiKeys.AsNoTracking().FirstOrDefaultAsync(k => k.KeyId == keyId, cancellationToken).ConfigureAwait(false);
            if (existing is not null && existing.KeySha256 == hash && existing.Owner == owner.Value)
            {
                return;
            }
        }

        await RevokeAsync(keyId, cancellationToken).ConfigureAwait(false);
        await RegisterAsync(hash, keyId, owner, time.GetUtcNow().ToUnixTimeMilliseconds(), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Revokes a key by id. Returns false when no such key exists.</summary>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(keyId);
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var revoked = await db.ApiKeys.Where(k => k.KeyId == keyId).ExecuteDeleteAsync(cancellationToken).ConfigureAwait(false) > 0;
        // Revocations are rare: forgetting every verified key makes this one apply at once on this gateway.
        Interlocked.Increment(ref _revocations);
        _verified.Clear();
        return revoked;
    }

    /// <summary>The account that pays for calls made with this key, or null for an unknown or revoked key.</summary>
    public async Task<AccountId?> ValidateAsync(string key, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 256)
        {
            return null;
        }

        // The lookup is by hash, so timing reveals nothing about the stored key's plaintext.
        var hash = HashKey(key);
        if (_verified.TryGetValue(hash, out var known) && time.GetElapsedTime(known.VerifiedAt) < VerifiedKeyTtl)
        {
            return known.Owner;
        }

        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        var asked = time.GetTimestamp();
        var revocations = Interlocked.Read(ref _revocations);
        await using var db = database.CreateContext();
        var owner = await db.ApiKeys.AsNoTracking().Where(k => k.KeySha256 == hash).Select(k => k.Owner).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (owner is null)
        {
            _verified.TryRemove(hash, out _);
            return null;
        }

        if (_verified.Count >= MaxVerifiedKeys)
        {
            _verified.Clear();
        }

        // Timed from before the query, so a revocation committed while it ran is seen within the TTL too.
        var found = new AccountId(owner);
        _verified[hash] = (found, asked);
        if (Interlocked.Read(ref _revocations) != revocations)
        {
            _verified.TryRemove(hash, out _);
        }

        return found;
    }

    /// <summary>The key ids an owner holds (for <c>/apikey</c> listings), oldest first.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(AccountId owner, CancellationToken cancellationToken)
    {
        await ReadyAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var rows = await db.ApiKeys.AsNoTracking().Where(k => k.Owner == owner.Value).OrderBy(k => k.CreatedAtMs).ThenBy(k => k.KeyId)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        return [.. rows.Select(r => new ApiKeyInfo(r.KeyId, owner, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs)))];
    }

    internal static string HashKey(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>The database's migrations, then the one-time move of keys still in Redis; retried after a failure.</summary>
    private Task ReadyAsync(CancellationToken cancellationToken) =>
        LazyInitializer.EnsureInitialized(ref _ready, () => new ReadyOnce(PrepareAsync)).EnsureAsync(cancellationToken);

    private async Task PrepareAsync(CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await MoveFromRedisAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Copies keys of the earlier Redis layout into the database and deletes them from Redis. Idempotent.</summary>
    private async Task MoveFromRedisAsync(CancellationToken cancellationToken)
    {
        var idPrefix = keys.Prefix + "apikey:id:";
        var redisDb = redis.GetDatabase();
        foreach (var server in redis.GetServers().Where(s => s.IsConnected && !s.IsReplica))
        {
            await foreach (var idKey in server.KeysAsync(pattern: RedisPattern(idPrefix) + "*").WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                var fields = (await redisDb.HashGetAllAsync(idKey).WaitAsync(cancellationToken).ConfigureAwait(false)).ToDictionary(f => f.Name.ToString(), f => f.Value.ToString());
                var keyId = idKey.ToString()[idPrefix.Length..];
                if (fields.TryGetValue("hash", out var hash) && fields.TryGetValue("owner", out var owner))
                {
                    var created = fields.TryGetValue("created", out var c) && long.TryParse(c, NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms) ? ms : time.GetUtcNow().ToUnixTimeMilliseconds();
                    await using var db = database.CreateContext();
                    if (!await db.ApiKeys.AnyAsync(k => k.KeyId == keyId || k.KeySha256 == hash, cancellationToken).ConfigureAwait(false))
                    {
                        try
                        {
                            await RegisterAsync(hash, keyId, new AccountId(owner), created, cancellationToken, ready: false).ConfigureAwait(false);
                        }
                        catch (DbUpdateException)
                        {
                            // Another gateway moved it at the same moment.
                        }
                    }

                    // One key per command: the earlier layout has no hash tags, so on Redis Cluster these three keys
                    // live in different slots and no transaction or script may touch them together. Each step is
                    // idempotent, and the id key (what the scan finds) goes last: a gateway stopped half way moves the
                    // rest at its next start.
                    await redisDb.KeyDeleteAsync(keys.Prefix + "apikey:hash:" + hash).WaitAsync(cancellationToken).ConfigureAwait(false);
                    await redisDb.SetRemoveAsync(keys.Prefix + "apikey:owner:" + owner, keyId).WaitAsync(cancellationToken).ConfigureAwait(false);
                    await redisDb.KeyDeleteAsync(idKey).WaitAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task RegisterAsync(string hash, string keyId, AccountId owner, long createdAtMs, CancellationToken cancellationToken, bool ready = true)
    {
        if (ready)
        {
            await ReadyAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var db = database.CreateContext();
        db.ApiKeys.Add(new ApiKeyRecord { KeyId = keyId, KeySha256 = hash, Owner = owner.Value, CreatedAtMs = createdAtMs });
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Escapes the glob characters of a literal key prefix for SCAN MATCH.</summary>
    private static string RedisPattern(string literal)
    {
        var b = new StringBuilder(literal.Length);
        foreach (var ch in literal)
        {
            if (ch is '*' or '?' or '[' or ']' or '\\')
            {
                b.Append('\\');
            }

            b.Append(ch);
        }

        return b.ToString();
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
