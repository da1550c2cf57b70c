using System.Security.Cryptography;
using System.Text;

namespace Cocoon.Network.Providers;

/// <summary>What a provider tells us when registering (from the Telegram /provider command or an operator).</summary>
public sealed record ProviderProfile(string Name, long? TelegramUserId = null, string? PayoutAddress = null, string? Contact = null);

/// <summary>
/// A registered provider. PriceCoefficient null = each worker's own coefficient applies (1000 = 1.0x). ProviderKey:
/// the lower-case hex Ed25519 public key its workers' certificates must be signed with (null: none registered, workers
/// join on the token alone); RevokedKeys: keys it replaced, whose certificates are refused by name.
/// </summary>
public sealed record ProviderInfo(
    string ProviderId,
    ProviderProfile Profile,
    bool Paused,
    int? PriceCoefficient,
    string TokenSha256,
    DateTimeOffset CreatedAt,
    string? ProviderKey = null,
    IReadOnlyList<string>? RevokedKeys = null)
{
    public IReadOnlyList<string> Revoked => RevokedKeys ?? [];
}

/// <summary>The provider id and the one-time secret a provider puts into COCOON_WORKER_TOKEN on its workers.</summary>
public sealed record ProviderRegistration(string ProviderId, string WorkerToken);

/// <summary>
/// Providers and their worker tokens, in an <see cref="IProviderStore"/> (the gateway's ledger database). Only
/// SHA-256(token) is stored: a worker puts the same hash into its attestation document, and the gateway resolves the
/// hash to the provider, so the token itself never leaves the provider's machines after registration.
/// </summary>
public sealed class ProviderDirectory(IProviderStore store, TimeProvider time)
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
        var created = DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds());
        await store.AddAsync(new ProviderInfo(providerId, profile, false, null, HashToken(token), created), cancellationToken).ConfigureAwait(false);
        return new ProviderRegistration(providerId, token);
    }

    /// <summary>Issues a new token and invalidates the old one (workers must restart with the new one).</summary>
    public async Task<string?> RotateTokenAsync(string providerId, CancellationToken cancellationToken)
    {
        var token = TokenPrefix + Base64Url(RandomNumberGenerator.GetBytes(32));
        var tokenHash = HashToken(token);
        return await store.UpdateAsync(providerId, p => p with { TokenSha256 = tokenHash }, cancellationToken).ConfigureAwait(false) ? token : null;
    }

    /// <summary>The provider a worker token belongs to, or null.</summary>
    public Task<ProviderInfo?> ResolveTokenAsync(string token, CancellationToken cancellationToken) =>
        ResolveTokenHashAsync(HashToken(token), cancellationToken);

    /// <summary>The provider whose token hashes to tokenSha256 (lower-case hex, as in attestation documents), or null.</summary>
    public Task<ProviderInfo?> ResolveTokenHashAsync(string tokenSha256, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(tokenSha256);
        return store.FindByTokenHashAsync(tokenSha256.ToLowerInvariant(), cancellationToken);
    }

    public Task<ProviderInfo?> GetAsync(string providerId, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(providerId);
        return store.GetAsync(providerId, cancellationToken);
    }

    public async Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken cancellationToken) =>
        [.. (await store.ListAsync(cancellationToken).ConfigureAwait(false)).OrderBy(p => p.CreatedAt)];

    /// <summary>Providers registered by one Telegram user.</summary>
    public async Task<IReadOnlyList<ProviderInfo>> ListByOwnerAsync(long telegramUserId, CancellationToken cancellationToken) =>
        [.. (await ListAsync(cancellationToken).ConfigureAwait(false)).Where(p => p.Profile.TelegramUserId == telegramUserId)];

    /// <summary>A paused provider's workers get no new jobs. Returns false when the provider does not exist.</summary>
    public Task<bool> SetPausedAsync(string providerId, bool paused, CancellationToken cancellationToken) =>
        store.UpdateAsync(providerId, p => p with { Paused = paused }, cancellationToken);

    /// <summary>
    /// Points the provider's payouts (and the stake read for it) at another wallet; the caller checks the address.
    /// Returns false when the provider does not exist.
    /// </summary>
    public Task<bool> SetPayoutAddressAsync(string providerId, string payoutAddress, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(payoutAddress);
        return store.UpdateAsync(providerId, p => p with { Profile = p.Profile with { PayoutAddress = payoutAddress } }, cancellationToken);
    }

    /// <summary>Overrides the price coefficient of all the provider's workers (1000 = 1.0x); null returns to each worker's own.</summary>
    public Task<bool> SetPriceCoefficientAsync(string providerId, int? coefficient, CancellationToken cancellationToken)
    {
        if (coefficient is < MinCoefficient or > MaxCoefficient)
        {
            throw new ArgumentOutOfRangeException(nameof(coefficient), coefficient, $"A price coefficient is between {MinCoefficient} and {MaxCoefficient} (1000 = 1.0x).");
        }

        return store.UpdateAsync(providerId, p => p with { PriceCoefficient = coefficient }, cancellationToken);
    }

    /// <summary>
    /// Registers (or replaces) the provider's public key (64 hex digits, Ed25519). A replaced key joins the revoked
    /// list: certificates it signed are refused from now on. Returns the provider as changed, or null when there is none.
    /// </summary>
    public async Task<ProviderInfo?> SetProviderKeyAsync(string providerId, string publicKeyHex, CancellationToken cancellationToken)
    {
        if (!IsProviderKey(publicKeyHex))
        {
            throw new ArgumentException("A provider key is an Ed25519 public key: 64 hex digits, as ./cocoon provider keygen prints it.", nameof(publicKeyHex));
        }

        var key = publicKeyHex.ToLowerInvariant();
        ProviderInfo? changed = null;
        var found = await store.UpdateAsync(providerId, p =>
        {
            var revoked = p.Revoked.Where(k => k != key).ToList();
            if (p.ProviderKey is { } old && old != key && !revoked.Contains(old))
            {
                revoked.Add(old);
            }

            return changed = p with { ProviderKey = key, RevokedKeys = revoked };
        }, cancellationToken).ConfigureAwait(false);
        return found ? changed : null;
    }

    /// <summary>64 hex digits (an Ed25519 public key).</summary>
    public static bool IsProviderKey(string? text) => text is { Length: 64 } && text.All(char.IsAsciiHexDigit);

    private static string Base64Url(byte[] bytes) =>
        Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
