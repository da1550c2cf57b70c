using System.Globalization;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Providers;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// What the collateral tests share: a gateway on the local chain (LocalStack.StartChainAsync) that asks stake of
/// the simulated tier (the test workers' tier, so they need it) and reads stakes uncached.
/// </summary>
internal static class StakedNetwork
{
    public const long Ton = 1_000_000_000;

    /// <summary>What the stake contract keeps of a deposit: a deposit of x stakes x − DepositFee.</summary>
    public const long DepositFee = 50_000_000;

    /// <summary>A started gateway on <paramref name="chain"/> with a 10 TON minimum stake; <paramref name="extra"/> adds or overrides settings.</summary>
    public static async Task<DispatchNetwork> StartAsync(RedisServer redis, LocalChainProcess chain, CancellationToken cancellationToken, IDictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>(chain.ConfigurationValues)
        {
            ["Gateway:Stake:Tiers:0"] = "simulated",
            ["Gateway:Stake:Minimum"] = (10 * Ton).ToString(CultureInfo.InvariantCulture),
            ["Gateway:Stake:CacheTtl"] = "00:00:00",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        var network = new DispatchNetwork(redis, settings, (services, configuration) => services.AddTonChain(configuration));
        try
        {
            await network.StartAsync(cancellationToken);
            return network;
        }
        catch
        {
            await network.DisposeAsync();
            throw;
        }
    }

    /// <summary>Registers the network's own provider (the test workers' provider) with a payout wallet made on the chain.</summary>
    public static async Task<TonAddress> RegisterLocalProviderAsync(DispatchNetwork network, LocalChainProcess chain, string walletName, CancellationToken cancellationToken)
    {
        var wallet = await chain.UserWalletAsync(walletName, cancellationToken);
        await network.Gateway.Services.GetRequiredService<IProviderStore>().AddAsync(
            new ProviderInfo(ProviderDirectory.LocalProviderId, new ProviderProfile("local", null, wallet.ToRaw()), false, null, "", DateTimeOffset.UtcNow), cancellationToken);
        return wallet;
    }
}
