using Cocoon.Bot.MiniApp;
using Cocoon.Bot.Slashing;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Stake;
using Cocoon.Network.Providers;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// A payout address is only a provider's word: its stake counts only when the provider's Telegram user proved the
/// wallet (ton_proof, WalletLinks). Provider B names provider A's staked wallet: B is matched with no stake and a slash
/// for B's fault takes nothing from A's wallet, and /provider stake tells B to link the wallet. Once B's user proves a
/// wallet of its own and pays to it, that stake counts and is what B's faults are slashed from.
/// </summary>
public sealed class StakeProofTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const long Ton = StakedNetwork.Ton;
    private const long DepositFee = StakedNetwork.DepositFee;
    private const long UserB = 7_100_003;

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(240)).Token;

    [Fact]
    public async Task A_provider_naming_another_stakers_wallet_gets_no_stake_and_cannot_get_that_wallet_slashed_until_it_proves_its_own()
    {
        await using var chain = await LocalStack.StartChainAsync(_ct);
        await using var network = await StakedNetwork.StartAsync(redis.Server, chain, _ct);
        var gateway = network.Gateway.Services;
        var stakes = gateway.GetRequiredService<StakeCache>();
        var reader = gateway.GetRequiredService<StakeReader>();
        var slasher = gateway.GetRequiredService<Slasher>();
        var directory = gateway.GetRequiredService<ProviderDirectory>();

        // A (the network's own provider) proved and staked its wallet: 60 TON, above the premium requirement.
        var walletA = await StakedNetwork.RegisterLocalProviderAsync(network, chain, "provider-a", _ct);
        Assert.Equal(0, await chain.StakeAsync("provider-a", 60 * Ton, _ct));
        var premium = stakes.Requirement(SlaClass.Premium)!["simulated"];
        Assert.True(60 * Ton - DepositFee >= premium);

        // B names A's wallet as its payout address (nothing stops it saying so) without proving it.
        var b = (await directory.RegisterAsync(new ProviderProfile("borrower", UserB, walletA.ToRaw()), _ct)).ProviderId;
        await stakes.RefreshAsync([ProviderDirectory.LocalProviderId, b], _ct);
        Assert.Equal(60 * Ton - DepositFee, stakes.Stake(ProviderDirectory.LocalProviderId));
        Assert.Equal(0, stakes.Stake(b)); // what WorkerChoice hands the Matcher for B's workers: below every staked class
        var read = (await stakes.ReadAsync(b, _ct))!.Value;
        Assert.Equal(StakePosition.None, read.Position);
        Assert.Equal(walletA, read.Address);
        Assert.False(read.Proven);

        // B's fault takes nothing from A's wallet.
        var slash = await slasher.ProvenAsync(Fault.FailedCanary, "w-borrower", b, null, "test:" + Guid.NewGuid().ToString("N"),
            new Dictionary<string, string> { ["verdict"] = "test" }, _ct);
        Assert.Null(slash);
        Assert.Equal(60 * Ton - DepositFee, (await reader.ReadAsync(walletA, _ct)).Stake);

        // B's /provider stake says why its stake is none.
        var report = gateway.GetRequiredService<ProviderStakeReport>();
        var text = await report.FormatAsync((await directory.GetAsync(b, _ct))!, _ct);
        Assert.Contains("Stake on chain: 0 TON bonded", text, StringComparison.Ordinal);
        Assert.Contains(ProviderStakeView.LinkWallet, text, StringComparison.Ordinal);
        Assert.DoesNotContain(ProviderStakeView.LinkWallet, await report.FormatAsync((await directory.GetAsync(ProviderDirectory.LocalProviderId, _ct))!, _ct), StringComparison.Ordinal);

        // B's user cannot prove A's wallet: it is linked to A's user already.
        await Assert.ThrowsAsync<WalletLinkedElsewhereException>(() => StakedNetwork.ProveWalletAsync(gateway, UserB, walletA, _ct));

        // B's user proves a wallet of its own, stakes from it and is paid to it: that stake counts and is slashable.
        var walletB = await chain.UserWalletAsync("provider-b", _ct);
        await StakedNetwork.ProveWalletAsync(gateway, UserB, walletB, _ct);
        Assert.True(await directory.SetPayoutAddressAsync(b, walletB.ToRaw(), _ct));
        Assert.Equal(0, await chain.StakeAsync("provider-b", 20 * Ton, _ct));
        await stakes.RefreshAsync([b], _ct);
        Assert.Equal(20 * Ton - DepositFee, stakes.Stake(b));
        Assert.DoesNotContain(ProviderStakeView.LinkWallet, await report.FormatAsync((await directory.GetAsync(b, _ct))!, _ct), StringComparison.Ordinal);
        var own = await slasher.ProvenAsync(Fault.FailedCanary, "w-borrower", b, null, "test:" + Guid.NewGuid().ToString("N"),
            new Dictionary<string, string> { ["verdict"] = "test" }, _ct);
        Assert.Equal(SlashStates.Applied, own!.State);
        Assert.Equal(walletB.ToRaw(), own.ProviderAddress);
        Assert.Equal(20 * Ton - DepositFee - own.Amount, (await reader.ReadAsync(walletB, _ct)).Stake);
        Assert.Equal(60 * Ton - DepositFee, (await reader.ReadAsync(walletA, _ct)).Stake);
    }
}
