using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Network.Transport;
using Cocoon.Ledger.Accounts;
using StackExchange.Redis;

namespace Cocoon.Bot.Api;

/// <summary>An API key as its owner sees it in a listing: never the key itself, only its id.</summary>
public sealed record ApiKeyInfo(string KeyId, AccountId Owner, DateTimeOffset CreatedAt);

/// <summary>
/// Bearer keys for the <c>/v1</c> API, kept in Redis only as SHA-256 hashes: a leaked Redis dump lets no one call
/// the API. The key carries 256 random bits, so an unsalted hash is enough (no dictionary to attack).
/// </summary>
/// <remarks>
/// Layout (under the network's Redis prefix, default <c>cocoon:</c>): <c>apikey:hash:{sha256}</c> → hash {id, owner, created}; <c>apikey:id:{id}</c> → hash
/// {hash, owner, created}; <c>apikey:owner:{owner}</c> → set of ids. Create and revoke are MULTI/EXEC so a
/// key is never half-registered.
/// </remarks>
public sealed class ApiKeyStore(IConnectionMultiplexer redis, RedisKeys keys, TimeProvider time)
{
    /// <summary>Prefix of every key handed out, so a leaked key is recognisable by secret scanners.</summary>
    public const string KeyPrefix = "sk-cocoon-";

    private readonly string _hashPrefix = keys.Prefix + "apikey:hash:";
    private readonly string _idPrefix = keys.Prefix + "apikey:id:";
    private readonly string _ownerPrefix = keys.Prefix + "apikey:owner:";

    /// <summary>Creates a new key for the owner. The plaintext key is returned once and never stored.</summary>
    public async Task<(string Key, string KeyId)> CreateAsync(AccountId owner, CancellationToken cancellationToken)
    {
        var keyId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var key = KeyPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        await RegisterAsync(key, keyId, owner, cancellationToken);
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
        var db = redis.GetDatabase();
        var existing = await db.HashGetAsync(_idPrefix + keyId, "hash").WaitAsync(cancellationToken);
        var hash = HashKey(key);
        if (existing.HasValue && existing.ToString() == hash)
        {
            return;
        }

        if (existing.HasValue)
        {
            await RevokeAsync(keyId, cancellationToken);
        }

        await RegisterAsync(key, keyId, owner, cancellationToken);
    }

    /// <summary>Revokes a key by id. Returns false when no such key exists.</summary>
    public async Task<bool> RevokeAsync(string keyId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(keyId);
        var db = redis.GetDatabase();
        var fields = await db.HashGetAllAsync(_idPrefix + keyId).WaitAsync(cancellationToken);
        if (fields.Length == 0)
        {
            return false;
        }

        var map = fields.ToDictionary(f => f.Name.ToString(), f => f.Value.ToString());
        var tx = db.CreateTransaction();
        _ = tx.KeyDeleteAsync(_hashPrefix + map["hash"]);
        _ = tx.KeyDeleteAsync(_idPrefix + keyId);
        _ = tx.SetRemoveAsync(_ownerPrefix + map["owner"], keyId);
        return await tx.ExecuteAsync().WaitAsync(cancellationToken);
    }

    /// <summary>The account that pays for calls made with this key, or null for an unknown or revoked key.</summary>
    public async Task<AccountId?> ValidateAsync(string key, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(key) || key.Length > 256)
        {
            return null;
        }

        // The lookup is by hash, so timing reveals nothing about the stored key's plaintext.
        var owner = await redis.GetDatabase().HashGetAsync(_hashPrefix + HashKey(key), "owner").WaitAsync(cancellationToken);
        return owner.HasValue ? new AccountId(owner.ToString()) : null;
    }

    /// <summary>The key ids an owner holds (for <c>/apikey</c> listings), oldest first.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(AccountId owner, CancellationToken cancellationToken)
    {
        var db = redis.GetDatabase();
        var ids = await db.SetMembersAsync(_ownerPrefix + owner.Value).WaitAsync(cancellationToken);
        var result = new List<ApiKeyInfo>(ids.Length);
        foreach (var id in ids)
        {
            var created = await db.HashGetAsync(_idPrefix + id, "created").WaitAsync(cancellationToken);
            if (created.HasValue && long.TryParse(created.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var ms))
            {
                result.Add(new ApiKeyInfo(id.ToString(), owner, DateTimeOffset.FromUnixTimeMilliseconds(ms)));
            }
        }

        return result.OrderBy(k => k.CreatedAt).ToList();
    }

    internal static string HashKey(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    private async Task RegisterAsync(string key, string keyId, AccountId owner, CancellationToken cancellationToken)
    {
        var hash = HashKey(key);
        var created = time.GetUtcNow().ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var db = redis.GetDatabase();
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(_hashPrefix + hash, [new("id", keyId), new("owner", owner.Value), new("created", created)]);
        _ = tx.HashSetAsync(_idPrefix + keyId, [new("hash", hash), new("owner", owner.Value), new("created", created)]);
        _ = tx.SetAddAsync(_ownerPrefix + owner.Value, keyId);
        if (!await tx.ExecuteAsync().WaitAsync(cancellationToken))
        {
            throw new InvalidOperationException("Redis refused to register the API key.");
        }
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
