namespace Cocoon.Network.Providers;

/// <summary>
/// Where provider records live. The gateway keeps them in its ledger database (payout addresses and price overrides are
/// money state, and Redis is where workers connect); <see cref="RedisProviderStore"/> is for hosts without a ledger.
/// </summary>
public interface IProviderStore
{
    Task AddAsync(ProviderInfo provider, CancellationToken cancellationToken);

    Task<ProviderInfo?> GetAsync(string providerId, CancellationToken cancellationToken);

    /// <summary>The provider whose token hashes to tokenSha256 (lower-case hex), or null.</summary>
    Task<ProviderInfo?> FindByTokenHashAsync(string tokenSha256, CancellationToken cancellationToken);

    Task<IReadOnlyList<ProviderInfo>> ListAsync(CancellationToken cancellationToken);

    /// <summary>Applies change to an existing provider; false when there is none (a typo never creates a record).</summary>
    Task<bool> UpdateAsync(string providerId, Func<ProviderInfo, ProviderInfo> change, CancellationToken cancellationToken);
}
