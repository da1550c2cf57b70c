using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Slashing;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Stake;
using Cocoon.Network.Access;
using Cocoon.Network.Providers;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// Issue 11's real-process test: three llama.cpp workers on redis-server, the ledger and the stake contract on the
/// local chain. Two honest workers (the network's own provider) serve stories260K; the third belongs to another
/// provider and attests stories260K's hash while it serves a different GGUF (a model the synthetic GGUF writer makes
/// from random weights with stories260K's tokenizer, so its tokens are ids of the same vocabulary). A user's request
/// goes to it; the spot check scores the delivered tokens on an honest worker, the tie-break on the other confirms
/// the fault, the cheater's reputation falls below the floor, its provider's stake is slashed on chain with the
/// evidence's hash as the reason, and the user it served gets the user's share (slash-refund:). A blind canary then
/// catches it too (a second slash, all to the network). The honest workers' reputation, stake and earnings are
/// untouched, and the ledger check passes.
/// </summary>
public sealed class TieBreakSlashingTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const long Ton = StakedNetwork.Ton;
    private const long DepositFee = StakedNetwork.DepositFee;
    private const long CheaterUser = 7_100_002;

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(300)).Token;

    [Fact]
    public async Task A_worker_serving_another_model_than_it_attests_loses_the_tie_break_is_slashed_on_chain_and_its_user_is_refunded()
    {
        await using var chain = await LocalStack.StartChainAsync(_ct);
        // Every request is spot-checked: the one the cheater serves must be.
        await using var network = await StakedNetwork.StartAsync(redis.Server, chain, _ct, new Dictionary<string, string?> { ["Gateway:Replays:Fraction"] = "1" });
        var gateway = network.Gateway.Services;

        // Two providers, each with its own payout wallet and stake: the network's own (the honest workers) and a stranger.
        var honestWallet = await StakedNetwork.RegisterLocalProviderAsync(network, chain, "provider-honest", _ct);
        var cheaterWallet = await chain.UserWalletAsync("provider-cheater", _ct);
        var cheaterProvider = (await gateway.GetRequiredService<ProviderDirectory>().RegisterAsync(new ProviderProfile("stranger", CheaterUser, cheaterWallet.ToRaw()), _ct)).ProviderId;
        await StakedNetwork.ProveWalletAsync(gateway, CheaterUser, cheaterWallet, _ct);
        Assert.Equal(0, await chain.StakeAsync("provider-honest", 20 * Ton, _ct));
        Assert.Equal(0, await chain.StakeAsync("provider-cheater", 20 * Ton, _ct));

        var (_, honest) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("local"));
        var (_, second) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("us"));

        // Replays are the network's jobs: the fee account pays the checkers.
        var ledger = network.Ledger;
        await ledger.CreditAsync(AccountId.NetworkFee, Ton, AccountId.FreeAllowance, "fund-fee:" + network.Prefix, _ct);

        // stories260K's own answer, from an honest worker (spot-checked by the other before the cheater exists).
        var book = gateway.GetRequiredService<ReputationBook>();
        var payer = await network.FundedPayerAsync(Ton, _ct);
        var (reference, first) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "local" }, _ct);
        Assert.Equal(honest.WorkerId, first.WorkerId);
        await SpotCheckedAsync(book, honest.WorkerId, 1);

        // The cheater loads another GGUF and attests stories260K's name and SHA-256: what a patched worker would do.
        // Nothing in the product does this; the test wraps the real llama.cpp service it loaded from the other file.
        var otherModel = await SyntheticGguf.EnsureAsync(
            Path.Combine(network.Data.Path, "models", "other-tiny-q8_0.gguf"), SharedFiles.SmallModel, new SyntheticGguf.Shape(64, 2, 4, 4, 128), _ct);
        var otherSha256 = await HashAsync(otherModel);
        Assert.NotEqual(honest.ModelSha256, otherSha256);
        var cheaterId = "w-cheater-" + Guid.NewGuid().ToString("N")[..6];
        var identity = WorkerIdentity.Create(cheaterId);
        Assert.True(await gateway.GetRequiredService<WorkerJoins>().PinAsync(cheaterId, cheaterProvider, identity.SigningPublicKey, "simulated", "stories260K", _ct));
        var grant = new JoinGrant(cheaterId, cheaterProvider, new JoinRedis("", "", "", network.Prefix, false), new JoinStreams("", "", "", ""),
            new JoinPolicy([], [], 1000, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5)));
        var (_, cheater) = await network.StartWorkerAsync(
            _ct,
            DispatchNetwork.InRegion("eu").With(new Dictionary<string, string?> { ["Worker:Model"] = otherModel }),
            wrap: inner => new OtherModelInference(inner, "stories260K", honest.ModelSha256),
            services: s => s.AddSingleton(new JoinedWorker(identity, grant, _ => Task.CompletedTask)));
        Assert.Equal(honest.ModelSha256, cheater.ModelSha256);
        Assert.Equal(cheaterProvider, network.Directory.Eligible.Single(w => w.Document.WorkerId == cheaterId).ProviderId);

        var stakes = gateway.GetRequiredService<StakeCache>();
        var reader = gateway.GetRequiredService<StakeReader>();
        var honestStakeBefore = await reader.ReadAsync(honestWallet, _ct);
        var cheaterStakeBefore = (await stakes.ReadAsync(cheaterProvider, _ct))!.Value.Position;
        Assert.Equal(20 * Ton - DepositFee, honestStakeBefore.Stake);
        var honestEarningsBefore = await ledger.GetBalanceAsync(AccountId.Provider(ProviderDirectory.LocalProviderId), _ct);
        var database = gateway.GetRequiredService<LedgerDatabase>();
        long lastEntryBefore;
        await using (var db = database.CreateContext())
        {
            lastEntryBefore = await db.Entries.MaxAsync(e => e.Id, _ct);
        }

        var floor = gateway.GetRequiredService<IOptions<DispatchOptions>>().Value.ReputationFloor;

        // A user's greedy request, served by the cheater.
        var request = DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "eu" };
        var (answer, served) = await network.AskAsync(request, _ct);
        Assert.Equal(cheaterId, served.WorkerId);
        Assert.NotEqual(reference, answer); // another model's text, not stories260K's
        var payerAfterCharge = await ledger.GetBalanceAsync(payer, _ct);

        // The spot check and its tie-break run after the answer; the slash follows the proven fault to the chain.
        var slashes = gateway.GetRequiredService<SlashBook>();
        SlashRecord? slash;
        while ((slash = (await slashes.ForProviderAsync(cheaterProvider, 10, _ct)).SingleOrDefault()) is not { State: SlashStates.Applied })
        {
            await Task.Delay(100, _ct);
        }

        Assert.Equal(nameof(Fault.LostTieBreak), slash.Fault);
        Assert.Equal("tie-break:" + request.RequestId, slash.FaultKey);
        Assert.Equal(cheaterId, slash.WorkerId);
        var cheaterState = book.State(cheaterId);
        Assert.Equal(1, cheaterState.SpotChecksFailed);
        var cheaterScore = await book.ReadAsync(cheaterId, _ct);
        Assert.True(cheaterScore.Value < floor, $"the cheater's score {cheaterScore.Value} is not below the floor {floor}");
        Assert.Contains(cheaterScore.Reasons, r => r.Code == "integrity-fault");

        // Slashed on chain by the decided amount, with the evidence's SHA-256 as the reason the provider can look up.
        var decided = gateway.GetRequiredService<IOptions<StakeOptions>>().Value.Policy().Decide(Fault.LostTieBreak, cheaterStakeBefore.AtStake);
        Assert.Equal(decided.Amount, slash.Amount);
        Assert.Equal(decided.ToUser, slash.ToUser);
        Assert.True(slash.ToUser > 0);
        Assert.Equal(payer.Value, slash.Payer);
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(slash.Evidence))), slash.ReasonHash);
        Assert.DoesNotContain("Once upon a time", slash.Evidence, StringComparison.Ordinal);
        Assert.DoesNotContain(answer, slash.Evidence, StringComparison.Ordinal);
        var cheaterStakeAfter = await reader.ReadAsync(cheaterWallet, _ct);
        Assert.Equal(cheaterStakeBefore.Stake - decided.Amount, cheaterStakeAfter.Stake);
        Assert.Equal(decided.Amount, cheaterStakeAfter.SlashedTotal);
        Assert.Equal(slash.ReasonHash, cheaterStakeAfter.LastSlashReason);

        // The user it served got the user's share (slash-refund:<reason>), the network the rest (slash:<reason>).
        Assert.Equal(payerAfterCharge + slash.ToUser, await ledger.GetBalanceAsync(payer, _ct));
        Assert.Equal(-decided.Amount, await ledger.GetBalanceAsync(AccountId.TonHotWallet, _ct));
        Assert.Equal(slash.ToUser, await RefundedAsync(database, Slasher.RefundKeyPrefix + slash.ReasonHash, payer.Value));

        // The honest workers: no fault, still above the floor; their provider's stake as it was, nothing slashed;
        // their earnings moved only by what the fee account paid them for checking.
        foreach (var id in new[] { honest.WorkerId, second.WorkerId })
        {
            var state = book.State(id);
            Assert.Equal(0, state.SpotChecksFailed + state.CanariesFailed + state.OverruledAsChecker + state.ReceiptMismatches);
            Assert.True(book.Score(id) >= floor, $"{id} fell to {book.Score(id)}");
        }

        var honestStakeAfter = await reader.ReadAsync(honestWallet, _ct);
        Assert.Equal(honestStakeBefore.Stake, honestStakeAfter.Stake);
        Assert.Equal(0, honestStakeAfter.SlashedTotal);
        Assert.Empty(await slashes.ForProviderAsync(ProviderDirectory.LocalProviderId, 10, _ct));
        // Their provider's balance moved only by the fee account paying for the checks they ran (network-job:<id>).
        await using (var db = database.CreateContext())
        {
            var provider = AccountId.Provider(ProviderDirectory.LocalProviderId).Value;
            var moves = await (from posting in db.Postings
                               join entry in db.Entries on posting.EntryId equals entry.Id
                               where entry.Id > lastEntryBefore && posting.AccountId == provider
                               select new { entry.IdempotencyKey, posting.Amount }).ToListAsync(_ct);
            Assert.Equal(2, moves.Count); // the checker and the tie-breaker
            Assert.All(moves, m => Assert.True(m.IdempotencyKey.StartsWith(NetworkJobPayments.KeyPrefix, StringComparison.Ordinal) && m.Amount > 0, $"{m.IdempotencyKey}: {m.Amount}"));
            Assert.Equal(honestEarningsBefore + moves.Sum(m => m.Amount), await ledger.GetBalanceAsync(AccountId.Provider(ProviderDirectory.LocalProviderId), _ct));
        }

        // Below the floor, the cheater is no longer matched: the same request goes to an honest worker.
        var passedBefore = book.State(honest.WorkerId).SpotChecksPassed + book.State(second.WorkerId).SpotChecksPassed;
        var (_, again) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "eu" }, _ct);
        Assert.NotEqual(cheaterId, again.WorkerId);
        while (book.State(honest.WorkerId).SpotChecksPassed + book.State(second.WorkerId).SpotChecksPassed == passedBefore)
        {
            await Task.Delay(50, _ct); // its spot check (by the other honest worker, never by the cheater) passes
        }

        Assert.Equal(1, book.State(cheaterId).SpotChecksFailed);

        // A blind canary with stories260K's known answer catches it too: a second proven fault, with no user to refund.
        var canaries = gateway.GetRequiredService<Canaries>();
        canaries.Add(new CanaryEntry { ModelSha256 = honest.ModelSha256, Prompt = "Once upon a time", MaxTokens = 24, AnswerSha256 = Canaries.AnswerHash(reference) });
        Assert.Equal(CanaryResult.Failed, await canaries.SendAsync(cheaterId, _ct));
        var canarySlash = (await slashes.ForProviderAsync(cheaterProvider, 10, _ct)).Single(x => x.Fault == nameof(Fault.FailedCanary));
        Assert.Equal(SlashStates.Applied, canarySlash.State);
        Assert.Equal(0, canarySlash.ToUser);
        Assert.Equal(cheaterStakeAfter.Stake - canarySlash.Amount, (await reader.ReadAsync(cheaterWallet, _ct)).Stake);
        Assert.Equal(honestStakeBefore.Stake, (await reader.ReadAsync(honestWallet, _ct)).Stake);

        var check = await LedgerChecker.CheckAsync(gateway.GetRequiredService<LedgerDatabase>(), _ct);
        Assert.True(check.Ok, check.Summary);
    }

    /// <summary>What the ledger entry under <paramref name="key"/> credited to <paramref name="account"/>.</summary>
    private async Task<long> RefundedAsync(LedgerDatabase database, string key, string account)
    {
        await using var db = database.CreateContext();
        return await (from posting in db.Postings
                      join entry in db.Entries on posting.EntryId equals entry.Id
                      where entry.IdempotencyKey == key && posting.AccountId == account
                      select posting.Amount).SumAsync(_ct);
    }

    private async Task SpotCheckedAsync(ReputationBook book, string workerId, int passes)
    {
        while (book.State(workerId).SpotChecksPassed < passes)
        {
            await Task.Delay(50, _ct);
        }
    }

    private static async Task<string> HashAsync(string path)
    {
        await using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
    }
}

/// <summary>
/// The real llama.cpp service on one GGUF, attesting another's name and SHA-256: a worker serving a cheaper model
/// than it claims. A test-only seam: no configuration reaches it.
/// </summary>
public sealed class OtherModelInference(IInferenceService inner, string attestedName, string attestedSha256) : IInferenceService
{
    public ModelInfo Model => inner.Model with { Name = attestedName, Sha256 = attestedSha256 };

    public int MaxConcurrency => inner.MaxConcurrency;

    public IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, CancellationToken cancellationToken) =>
        inner.GenerateAsync(request, cancellationToken);
}
