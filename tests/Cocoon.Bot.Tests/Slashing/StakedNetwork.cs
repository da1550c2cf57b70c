using System.Globalization;
using Cocoon.Bot.MiniApp;
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

    /// <summary>The Telegram user the tests give the network's own provider, so it can prove its payout wallet.</summary>
    public const long LocalProviderUser = 7_100_001;

    /// <summary>
    /// Registers the network's own provider (the test workers' provider) with a payout wallet made on the chain, owned
    /// by <see cref="LocalProviderUser"/> who has proven that wallet (<see cref="ProveWalletAsync"/>): a stake counts
    /// only for a wallet the provider's user proved, and a provider without a user has none.
    /// </summary>
    public static async Task<TonAddress> RegisterLocalProviderAsync(DispatchNetwork network, LocalChainProcess chain, string walletName, CancellationToken cancellationToken)
    {
        var wallet = await chain.UserWalletAsync(walletName, cancellationToken);
        await network.Gateway.Services.GetRequiredService<IProviderStore>().AddAsync(
            new ProviderInfo(ProviderDirectory.LocalProviderId, new ProviderProfile("local", LocalProviderUser, wallet.ToRaw()), false, null, "", DateTimeOffset.UtcNow), cancellationToken);
        await ProveWalletAsync(network.Gateway.Services, LocalProviderUser, wallet, cancellationToken);
        return wallet;
    }

    /// <summary>
    /// Records that the user proved the wallet: writes the link the Mini App's ton_proof endpoint writes once the proof
    /// verifies (WalletLinks). The ton_proof verification itself is tested with the Mini App (MiniApp tests); here it
    /// is taken as passed, so the stake tests need no TON Connect wallet.
    /// </summary>
    public static Task ProveWalletAsync(IServiceProvider gateway, long telegramUserId, TonAddress wallet, CancellationToken cancellationToken) =>
        gateway.GetRequiredService<WalletLinks>().LinkAsync(telegramUserId, wallet.ToRaw(), cancellationToken);
}
