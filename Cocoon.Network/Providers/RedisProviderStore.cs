using System.Globalization;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Network.Providers;

/// <summary>
/// Provider records in Redis (the layout before they moved to the gateway's ledger database): <c>provider:{id}</c>
/// hash, <c>provider-token:{sha256}</c> → id, and the <c>providers</c> set. For hosts without a ledger; the gateway
/// moves any records it finds here into its database (<see cref="ReadAllAsync"/>, <see cref="DeleteAsync"/>).
/// </summary>
public sealed class RedisProviderStore(IConnectionMultiplexer redis, RedisKeys keys) : IProviderStore
{
    public async Task AddAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.HashSetAsync(keys.Provider(provider.ProviderId), ToHash(provider));
        _ = tx.StringSetAsync(keys.ProviderToken(provider.TokenSha256), provider.ProviderId);
        _ = tx.SetAddAsync(keys.Providers, provider.ProviderId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task<ProviderInfo?> GetAsync(string providerId, CancellationToken cancellationToken)
    {
        var entries = await redis.GetDatabase().HashGetAllAsync(keys.Provider(providerId)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return entries.Length == 0 ? null : FromHash(providerId, entries);
    }

    public async Task<ProviderInfo?> FindByTokenHashAsync(string tokenSha256, CancellationToken cancellationToken)
    {
        var id = await redis.GetDatabase().StringGetAsync(keys.ProviderToken(tokenSha256)).WaitAsync(cancellationToken).ConfigureAwait(false);
        return id.IsNull ? null : await GetAsync(id!, cancellationToken).ConfigureAwait(false);
    }

    public Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken cancellationToken) => ReadAllAsync(cancellationToken);

    /// <summary>Every provider record in Redis.</summary>
    public async Task<IReadOnlyList<ProviderInfo>> ReadAllAsync(CancellationToken cancellationToken)
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

        return result;
    }

    public async Task<bool> UpdateAsync(string providerId, Func<ProviderInfo, ProviderInfo> change, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(change);
        if (await GetAsync(providerId, cancellationToken).ConfigureAwait(false) is not { } current)
        {
            return false;
        }

        var next = change(current);
        var tx = redis.GetDatabase().CreateTransaction();
        if (next.TokenSha256 != current.TokenSha256)
        {
            _ = tx.KeyDeleteAsync(keys.ProviderToken(current.TokenSha256));
            _ = tx.StringSetAsync(keys.ProviderToken(next.TokenSha256), providerId);
        }

        _ = tx.HashSetAsync(keys.Provider(providerId), ToHash(next));
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Removes a provider's record, token key and set member (after it moved elsewhere).</summary>
    public async Task DeleteAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var tx = redis.GetDatabase().CreateTransaction();
        _ = tx.KeyDeleteAsync(keys.Provider(provider.ProviderId));
        _ = tx.KeyDeleteAsync(keys.ProviderToken(provider.TokenSha256));
        _ = tx.SetRemoveAsync(keys.Providers, provider.ProviderId);
        await tx.ExecuteAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private static HashEntry[] ToHash(ProviderInfo p) =>
    [
        new("name", p.Profile.Name),
        new("telegramUserId", p.Profile.TelegramUserId?.ToString(CultureInfo.InvariantCulture) ?? string.Empty),
        new("payoutAddress", p.Profile.PayoutAddress ?? string.Empty),
        new("contact", p.Profile.Contact ?? string.Empty),
        new("paused", p.Paused ? "1" : "0"),
        new("coefficient", p.PriceCoefficient?.ToString(CultureInfo.InvariantCulture) ?? string.Empty),
        new("tokenSha256", p.TokenSha256),
        new("createdAt", p.CreatedAt.ToUnixTimeMilliseconds()),
        new("providerKey", p.ProviderKey ?? string.Empty),
        new("revokedKeys", string.Join(' ', p.Revoked)),
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
            DateTimeOffset.FromUnixTimeMilliseconds(Optional("createdAt") is { } t ? long.Parse(t, CultureInfo.InvariantCulture) : 0),
            Optional("providerKey"),
            Optional("revokedKeys") is { } revoked ? revoked.Split(' ', StringSplitOptions.RemoveEmptyEntries) : null);
    }
}
