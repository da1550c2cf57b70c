using System.Text.RegularExpressions;
using Cocoon.Bot.Slashing;
using Cocoon.Bot.Tests.Telegram;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Stake;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Providers;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// /provider stake through the fake Bot API, against the stake contract on the local chain: the stake, what each class
/// needs and whether the provider's worker is matched for it, the deposit link (sent as a wallet would send it, it
/// stakes exactly the premium requirement), and a slash with its reason hash and transaction.
/// </summary>
public sealed partial class ProviderStakeCommandTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Owner = 7311;
    private const long Ton = 1_000_000_000;

    // ScriptedDispatcher serves one simulated worker, worker-1 of provider-1.
    private const string ProviderId = "provider-1";

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(240)).Token;

    [Fact]
    public async Task Provider_stake_shows_stake_requirements_matching_and_slashes_and_its_deposit_link_stakes()
    {
        await using var chain = await Hosting.LocalStack.StartChainAsync(_ct);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>(chain.ConfigurationValues)
        {
            ["Gateway:Stake:Tiers:0"] = "simulated",
            ["Gateway:Stake:CacheTtl"] = "00:00:00",
        }).Build();
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(fixture.Server, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            services: s =>
            {
                s.AddTonChain(configuration);
                SlashingServiceCollectionExtensions.AddSlashing(s, configuration);
            });
        var walletName = "stake-" + Guid.NewGuid().ToString("N")[..8];
        var wallet = await chain.UserWalletAsync(walletName, _ct);
        await bot.Get<IProviderStore>().AddAsync(
            new ProviderInfo(ProviderId, new ProviderProfile("stake-test", Owner, wallet.ToRaw()), false, null, "", DateTimeOffset.UtcNow), _ct);
        await bot.Get<Cocoon.Bot.MiniApp.WalletLinks>().LinkAsync(Owner, wallet.ToRaw(), _ct); // as ton_proof in the Mini App would

        // Nothing staked: the worker is matched for nothing, and the link stakes the premium requirement.
        var first = await AskAsync(api, 1);
        Assert.Contains("Stake on chain: 0 TON bonded", first, StringComparison.Ordinal);
        Assert.Contains("Required in tiers simulated (Gateway:Stake): best effort 10 TON, standard 20 TON, premium 50 TON", first, StringComparison.Ordinal);
        Assert.Contains("• worker-1 (simulated): not matched for any job.", first, StringComparison.Ordinal);
        Assert.Contains(wallet.ToFriendly(bounceable: false), first, StringComparison.Ordinal);
        Assert.DoesNotContain("./cocoon", first, StringComparison.Ordinal); // no command to run: a wallet transfer does it
        var deposit = Link().Match(first);
        Assert.True(deposit.Success, first);
        Assert.Equal(chain.StakeAddress, TonAddress.Parse(deposit.Groups["to"].Value));
        var body = Cell.FromBoc(FromBase64Url(deposit.Groups["bin"].Value));
        Assert.Equal(StakeContract.DepositOp, (uint)body.BeginParse().LoadUInt(32));

        // The provider's wallet sends exactly what the link says: the stake is then the premium requirement.
        await chain.TransferAsync(walletName, chain.StakeAddress, long.Parse(deposit.Groups["amount"].Value, System.Globalization.CultureInfo.InvariantCulture), body, _ct);
        var position = await bot.Get<StakeReader>().ReadAsync(wallet, _ct);
        Assert.Equal(50 * Ton, position.Stake);
        var second = await AskAsync(api, 2);
        Assert.Contains("Stake on chain: 50 TON bonded, slashed 0 TON in total.", second, StringComparison.Ordinal);
        Assert.Contains("• worker-1 (simulated): matched for best effort, standard, premium.", second, StringComparison.Ordinal);
        Assert.Contains("Request all 50 TON:", second, StringComparison.Ordinal);

        // A proven fault: the slash shows with its reason hash and the contract's transaction, and premium is lost.
        var slash = await bot.Get<Slasher>().ProvenAsync(Fault.FailedCanary, "worker-1", ProviderId, null, "test:" + Guid.NewGuid().ToString("N"),
            new Dictionary<string, string> { ["verdict"] = "test" }, _ct);
        Assert.Equal(SlashStates.Applied, slash!.State);
        var third = await AskAsync(api, 3);
        Assert.Contains($"reason {slash.ReasonHash}, transaction {slash.TransactionHash}", third, StringComparison.Ordinal);
        Assert.Contains($"slashed {Cocoon.Bot.Telegram.Accounts.Money.Ton(slash.Amount)} in total", third, StringComparison.Ordinal);
        Assert.Contains("• worker-1 (simulated): matched for best effort, standard; not for premium.", third, StringComparison.Ordinal);

        // The help lists it.
        api.Enqueue(FakeBotApi.TextUpdate(Owner, Owner, "/provider", 4));
        static bool IsHelp(BotApiCall c) => c.Method == "sendMessage" && c.Text?.StartsWith("Sell inference", StringComparison.Ordinal) == true;
        var help = (await api.WaitForAsync("sendMessage", IsHelp)).Last(IsHelp).Text!;
        Assert.Contains("/provider stake – ", help, StringComparison.Ordinal);
    }

    private static async Task<string> AskAsync(FakeBotApi api, int messageId)
    {
        static bool IsReport(BotApiCall c) => c.Text?.StartsWith(ProviderId + " · ", StringComparison.Ordinal) == true;
        var before = api.Calls("sendMessage").Count(IsReport);
        api.Enqueue(FakeBotApi.TextUpdate(Owner, Owner, "/provider stake", messageId));
        return (await api.WaitForAsync("sendMessage", IsReport, count: before + 1, timeout: TimeSpan.FromSeconds(60))).Where(c => c.Method == "sendMessage").Last(IsReport).Text!;
    }

    private static byte[] FromBase64Url(string text)
    {
        var s = text.Replace('-', '+').Replace('_', '/');
        return Convert.FromBase64String(s + new string('=', (4 - (s.Length % 4)) % 4));
    }

    [GeneratedRegex(@"ton://transfer/(?<to>[A-Za-z0-9_-]+)\?amount=(?<amount>\d+)&bin=(?<bin>[A-Za-z0-9_-]+)")]
    private static partial Regex Link();
}
