using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Network.Providers;

/// <summary>What a provider tells us when registering (from the Telegram /provider command or an operator).</summary>
public sealed record ProviderProfile(string Name, long? TelegramUserId = null, string? PayoutAddress = null, string? Contact = null);

/// <summary>A registered provider. PriceCoefficient null = each worker's own coefficient applies (1000 = 1.0x).</summary>
public sealed record ProviderInfo(
    string ProviderId,
    ProviderProfile Profile,
    bool Paused,
    int? PriceCoefficient,
    string TokenSha256,
    DateTimeOffset CreatedAt);

/// <summary>The provider id and the one-time secret a provider puts into COCOON_WORKER_TOKEN on its workers.</summary>
public sealed record ProviderRegistration(string ProviderId, string WorkerToken);

/// <summary>
/// Providers and their worker tokens, in Redis. Only SHA-256(token) is stored: a worker puts the same hash into
/// its attestation document, and the gateway resolves the hash to the provider, so the token itself never leaves
/// the provider's machines after registration.
/// </summary>
public sealed class ProviderDirectory(IConnectionMultiplexer redis, RedisKeys keys, TimeProvider time)
{
    /// <summary>Workers without a token (local development) belong to this provider; gateways accept it only when configured to.</summary>
    public const string LocalProviderId = "local";

    public const int MinCoefficient = 1;
    public const int MaxCoefficient = 100_000;

    private const string TokenPrefix = "cwt_";

    public static string HashToken(string token)
    {
        ArgumentException.ThrowIfNullOrEmpty(token);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(token)));
    }

    public async Task<ProviderRegistration> RegisterAsync(ProviderProfile profile, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(profile);
        ArgumentException.ThrowIfNullOrWhiteSpace(profile.Name);
        var providerId = "p" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8));
        var token = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var tokenHash = HashToken(token);
        var db = redis.GetDatabase();
        var tx = db.CreateTransaction();
        _ = tx.HashSetAsync(keys.Provider(providerId), ToHash(profile, tokenHash, time.GetUtcNow()));
        _ = tx.StringSetAsync(keys.ProviderToken(tokenHash), providerId);
        _ = tx.SetAddAsync(keys.Providers, providerId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return new ProviderRegistration(providerId, token);
    }

    /// <summary>Issues a new token and invalidates the old one (workers must restart with the new one).</summary>
    public async Task<string?> RotateTokenAsync(string providerId, CancellationToken cancellationToken)
    {
        var current = await GetAsync(providerId, cancellationToken).ConfigureAwait(false);
        if (current is null)
        {
            return null;
        }

        var token = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var tokenHash = HashToken(token);
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.KeyDeleteAsync(keys.ProviderToken(current.TokenSha256));
        _ = tx.StringSetAsync(keys.ProviderToken(tokenHash), providerId);
        _ = tx.HashSetAsync(keys.Provider(providerId), "tokenSha256", tokenHash);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return token;
    }

    /// <summary>The provider a worker token belongs to, or null.</summary>
    public Task<ProviderInfo?> ResolveTokenAsync(string token, CancellationToken cancellationToken) =>
        ResolveTokenHashAsync(HashToken(token), cancellationToken);

    /// <summary>The provider whose token hashes to tokenSha256 (lower-case hex, as in attestation documents), or null.</summary>
    public async Task<ProviderInfo?> ResolveTokenHashAsync(string tokenSha256, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenSha256);
        var id = await redis.GetDatabase().StringGetAsync(keys.ProviderToken(tokenSha256.ToLowerInvariant())).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id.IsNull ? null : await GetAsync(id!, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProviderInfo?> GetAsync(string providerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(providerId);
        var entries = await redis.GetDatabase().HashGetAllAsync(keys.Provider(providerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return entries.Length == 0 ? null : FromHash(providerId, entries);
    }

    public async Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken cancellationToken)
    {
        var ids = await redis.GetDatabase().SetMembersAsync(keys.Providers).WaitAsync(cancellationToken).ConfigureAwait(false);
        var result = new List<ProviderInfo>(ids.Length);
        foreach (var id in ids)
        {
            if (await GetAsync(id!, cancellationToken).ConfigureAwait(false) is { } info)
            {
                result.Add(info);
            }
        }

        return [.. result.OrderBy(p => p.CreatedAt)];
    }

    /// <summary>Providers registered by one Telegram user.</summary>
    public async Task<IReadOnlyList<ProviderInfo>> ListByOwnerAsync(long telegramUserId, CancellationToken cancellationToken) =>
        [.. (await ListAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Profile.TelegramUserId == telegramUserId)];

    /// <summary>A paused provider's workers get no new jobs. Returns false when the provider does not exist.</summary>
    public Task<bool> SetPausedAsync(string providerId, bool paused, CancellationToken cancellationToken) =>
        SetFieldAsync(providerId, "paused", paused ? "1" : "0", cancellationToken);

    /// <summary>Overrides the price coefficient of all the provider's workers (1000 = 1.0x); null returns to each worker's own.</summary>
    public Task<bool> SetPriceCoefficientAsync(string providerId, int? coefficient, CancellationToken cancellationToken)
    {
        if (coefficient is < MinCoefficient or > MaxCoefficient)
        {
            throw new ArgumentOutOfRangeException(nameof(coefficient), coefficient, $"A price coefficient is between {MinCoefficient} and {MaxCoefficient} (1000 = 1.0x).");
        }

        return SetFieldAsync(providerId, "coefficient", coefficient?.ToString(CultureInfo.InvariantCulture) ?? string.Empty, cancellationToken);
    }

    private async Task<bool> SetFieldAsync(string providerId, string field, string value, CancellationToken cancellationToken)
    {
        // Only an existing provider: a typo must not create a half-empty record.
        const string script = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end return 0";
        var result = await redis.GetDatabase().ScriptEvaluateAsync(script, [keys.Provider(providerId)], [field, value]).WaitAsync(cancellationToken).ConfigureAwait(false);
        return (int)result == 1;
    }

    private static HashEntry[] ToHash(ProviderProfile profile, string tokenHash, DateTimeOffset createdAt) =>
    [
        new("name", profile.Name),
        new("telegramUserId", profile.TelegramUserId?.ToString(CultureInfo.InvariantCulture) ?? string.Empty),
        new("payoutAddress", profile.PayoutAddress ?? string.Empty),
        new("contact", profile.Contact ?? string.Empty),
        new("paused", "0"),
        new("coefficient", string.Empty),
        new("tokenSha256", tokenHash),
        new("createdAt", createdAt.ToUnixTimeMilliseconds()),
    ];

    private static ProviderInfo FromHash(string providerId, HashEntry[] entries)
    {
        var map = entries.ToDictionary(e => (string)e.Name!, e => (string?)e.Value ?? string.Empty);
        string? Optional(string name) => map.TryGetValue(name, out var v) && v.Length > 0 ? v : null;
        return new ProviderInfo(
            providerId,
            new ProviderProfile(
                Optional("name") ?? providerId,
                Optional("telegramUserId") is { } uid ? long.Parse(uid, CultureInfo.InvariantCulture) : null,
                Optional("payoutAddress"),
                Optional("contact")),
            Optional("paused") == "1",
            Optional("coefficient") is { } c ? int.Parse(c, CultureInfo.InvariantCulture) : null,
            Optional("tokenSha256") ?? string.Empty,
            DateTimeOffset.FromUnixTimeMilliseconds(Optional("createdAt") is { } t ? long.Parse(t, CultureInfo.InvariantCulture) : 0));
    }

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
