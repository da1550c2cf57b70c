using Cocoon.Bot.Reputation;
using Cocoon.Bot.Slashing;
using Cocoon.Bot.Telegram.Providers;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.Reputation;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Stake;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// Collateral on the local chain (the stake contract on @ton/sandbox) with real llama.cpp workers and redis-server:
/// a provider without stake gets no job; once staked it does; its cheating worker fails a blind canary and the
/// provider's on-chain stake goes down by the decided amount, with the evidence's hash as the reason it can look up.
/// </summary>
public sealed class SlashingTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const long Ton = StakedNetwork.Ton;
    private const long DepositFee = StakedNetwork.DepositFee;

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(300)).Token;

    [Fact]
    public async Task An_unstaked_provider_gets_no_job_and_a_cheater_caught_by_a_canary_is_slashed_on_chain_with_a_reason_its_provider_sees()
    {
        await using var chain = await LocalStack.StartChainAsync(_ct);
        await using var network = await StakedNetwork.StartAsync(redis.Server, chain, _ct);
        var providerWallet = await StakedNetwork.RegisterLocalProviderAsync(network, chain, "provider-local", _ct);
        var (_, honest) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("local"));
        var (_, cheater) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("eu"), wrap: inner => new TruncatingInference(inner, 3));
        var payer = await network.FundedPayerAsync(Ton, _ct);
        DispatchRequest Ask(string region) => DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = region };

        // No stake on chain: the simulated tier needs one here, so nobody is matched.
        await Assert.ThrowsAsync<ModelUnavailableException>(() => network.AskAsync(Ask("local"), _ct));

        // The provider stakes 20 TON from its payout wallet: the gateway reads it and matches its workers.
        Assert.Equal(0, await chain.StakeAsync("provider-local", 20 * Ton, _ct));
        var (known, reference) = await network.AskAsync(Ask("local"), _ct);
        Assert.Equal(honest.WorkerId, reference.WorkerId);
        var stakes = network.Gateway.Services.GetRequiredService<StakeCache>();
        var before = (await stakes.ReadAsync(ProviderDirectory.LocalProviderId, _ct))!.Value.Position;
        Assert.Equal(20 * Ton - DepositFee, before.Stake);

        // Canaries are the network's jobs: paid to the provider from the network fee account, never by a user.
        var ledger = network.Ledger;
        await ledger.CreditAsync(AccountId.NetworkFee, Ton, AccountId.FreeAllowance, "fund-fee:" + network.Prefix, _ct);
        var canaries = network.Gateway.Services.GetRequiredService<Canaries>();
        canaries.Add(new CanaryEntry { ModelSha256 = honest.ModelSha256, Prompt = "Once upon a time", MaxTokens = 24, AnswerSha256 = Canaries.AnswerHash(known) });
        var feeBefore = await ledger.GetBalanceAsync(AccountId.NetworkFee, _ct);
        var providerBefore = await ledger.GetBalanceAsync(AccountId.Provider(ProviderDirectory.LocalProviderId), _ct);
        var payerBefore = await ledger.GetBalanceAsync(payer, _ct);
        Assert.Equal(CanaryResult.Passed, await canaries.SendAsync(honest.WorkerId, _ct));
        var paid = await ledger.GetBalanceAsync(AccountId.Provider(ProviderDirectory.LocalProviderId), _ct) - providerBefore;
        Assert.True(paid > 0, $"paid {paid}");
        Assert.Equal(feeBefore - paid, await ledger.GetBalanceAsync(AccountId.NetworkFee, _ct));
        Assert.Equal(payerBefore, await ledger.GetBalanceAsync(payer, _ct));

        // The cheater fails its canary: a proven fault, slashed on chain by the decided amount.
        Assert.Equal(CanaryResult.Failed, await canaries.SendAsync(cheater.WorkerId, _ct));
        var decided = network.Gateway.Services.GetRequiredService<IOptions<StakeOptions>>().Value.Policy().Decide(Fault.FailedCanary, before.AtStake);
        var slash = Assert.Single(await network.Gateway.Services.GetRequiredService<SlashBook>().ForProviderAsync(ProviderDirectory.LocalProviderId, 10, _ct));
        Assert.Equal(SlashStates.Applied, slash.State);
        Assert.Equal(decided.Amount, slash.Amount);
        Assert.Equal(0, slash.ToUser); // a canary has no user: the network takes it all
        Assert.Equal(cheater.WorkerId, slash.WorkerId);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(slash.Evidence))), slash.ReasonHash);
        Assert.DoesNotContain("Once upon a time", slash.Evidence, StringComparison.Ordinal);

        var reader = network.Gateway.Services.GetRequiredService<StakeReader>();
        var after = await reader.ReadAsync(providerWallet, _ct);
        Assert.Equal(before.Stake - decided.Amount, after.Stake);
        Assert.Equal(decided.Amount, after.SlashedTotal);
        Assert.Equal(slash.ReasonHash, after.LastSlashReason);

        // The slashed TON reached the network wallet; the ledger shows it once, from the hot wallet to the fee account.
        Assert.Equal(-decided.Amount, await ledger.GetBalanceAsync(AccountId.TonHotWallet, _ct));

        // The provider sees its stake and the slash with its reason, in the bot's text and the endpoint's JSON.
        var status = new ProviderStatus(
            network.Gateway.Services.GetRequiredService<WorkerJoins>(), network.Gateway.Services.GetRequiredService<WorkerRegistry>(),
            network.Dispatcher, network.Ledger, TimeProvider.System, null, null, stakes, network.Gateway.Services.GetRequiredService<SlashBook>());
        var provider = (await network.Gateway.Services.GetRequiredService<ProviderDirectory>().GetAsync(ProviderDirectory.LocalProviderId, _ct))!;
        var report = await status.BuildAsync(provider, _ct);
        Assert.Equal(after.Stake, report.Stake!.Stake);
        Assert.True(report.Stake.Sufficient);
        Assert.Equal(slash.ReasonHash, Assert.Single(report.Slashes!).ReasonHash);
        Assert.Contains(slash.ReasonHash, ProviderStatus.Format(report), StringComparison.Ordinal);
        Assert.Contains(slash.ReasonHash, System.Text.Json.JsonSerializer.Serialize(report, ProviderStatusJsonContext.Default.ProviderStatusReport), StringComparison.Ordinal);

        // A second report of the same fault key slashes nothing more.
        var slasher = network.Gateway.Services.GetRequiredService<Slasher>();
        var again = await slasher.ProvenAsync(Fault.FailedCanary, cheater.WorkerId, ProviderDirectory.LocalProviderId, null, slash.FaultKey, new Dictionary<string, string>(), _ct);
        Assert.Equal(slash.ReasonHash, again!.ReasonHash);
        Assert.Equal(after, await reader.ReadAsync(providerWallet, _ct));

        var check = await LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<LedgerDatabase>(), _ct);
        Assert.True(check.Ok, check.Summary);
    }
}
