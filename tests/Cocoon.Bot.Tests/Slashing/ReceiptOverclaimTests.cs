using System.Runtime.CompilerServices;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Slashing;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Engine.Protocol;
using Cocoon.Engine.Slashing;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Stake;
using Cocoon.Network.Providers;
using Cocoon.Worker.Inference;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Slashing;

/// <summary>
/// A worker whose signed receipt claims more tokens than it delivered, on real llama.cpp workers, redis-server, the
/// ledger and the local chain: the user pays for the tokens delivered (the same as an honest worker's answer costs),
/// the worker's reputation shows the receipt mismatch, its provider is slashed on chain by the receipt share, the
/// slashed TON reaching the network wallet is booked as the slash's (not an unmatched deposit), and the ledger balances.
/// </summary>
public sealed class ReceiptOverclaimTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const long Ton = StakedNetwork.Ton;

    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(300)).Token;

    [Fact]
    public async Task A_worker_claiming_more_tokens_than_it_delivered_is_billed_the_true_count_marked_and_slashed()
    {
        await using var chain = await LocalStack.StartChainAsync(_ct);
        await using var network = await StakedNetwork.StartAsync(redis.Server, chain, _ct);
        var providerWallet = await StakedNetwork.RegisterLocalProviderAsync(network, chain, "provider-local", _ct);
        Assert.Equal(0, await chain.StakeAsync("provider-local", 20 * Ton, _ct));
        var (_, honest) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("local"));
        var (_, cheater) = await network.StartWorkerAsync(_ct, DispatchNetwork.InRegion("eu"), wrap: inner => new OverclaimingInference(inner, unbilledShortfall: 8));
        var payer = await network.FundedPayerAsync(Ton, _ct);

        // What the cheater really generates for max_tokens 24 is what an honest worker generates for 16.
        var (text, reference) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 16) with { Region = "local" }, _ct);
        Assert.Equal(honest.WorkerId, reference.WorkerId);
        Assert.Equal(FinishReason.Length, reference.FinishReason);

        var stakes = network.Gateway.Services.GetRequiredService<StakeCache>();
        var before = (await stakes.ReadAsync(ProviderDirectory.LocalProviderId, _ct))!.Value.Position;
        var payerBefore = await network.Ledger.GetBalanceAsync(payer, _ct);
        var (cheated, billed) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24) with { Region = "eu" }, _ct);
        Assert.Equal(cheater.WorkerId, billed.WorkerId);
        Assert.Equal(text, cheated);

        // Billed the tokens delivered (the ids it sealed), never the 24 it signed for: the honest answer's price.
        Assert.Equal(reference.CompletionTokens, billed.CompletionTokens);
        Assert.Equal(reference.PromptTokens, billed.PromptTokens);
        Assert.Equal(reference.TotalCostNanotons, billed.TotalCostNanotons);
        var stored = await network.Gateway.Services.GetRequiredService<Cocoon.Ledger.Receipts.ReceiptStore>().FindAsync(billed.RequestId, payer.Value, _ct);
        Assert.Equal(billed.TotalCostNanotons, stored!.Value.Receipt.ChargedNanotons);
        // The worker's signed claim is kept as it came: the evidence the slash rests on.
        Assert.Equal(24, Cocoon.Engine.Attestation.SignedUsageReceipt.FromJson(stored.Value.Receipt.SignedReceiptJson).Receipt.CompletionTokens);

        // Its reputation shows the mismatch, and its provider is slashed by the receipt share, the user refunded half.
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        var slashes = network.Gateway.Services.GetRequiredService<SlashBook>();
        while (book.State(cheater.WorkerId).ReceiptMismatches == 0
               || (await slashes.ForProviderAsync(ProviderDirectory.LocalProviderId, 10, _ct)) is not [{ State: SlashStates.Applied }])
        {
            await Task.Delay(50, _ct);
        }

        Assert.Contains(book.Model.Score(book.State(cheater.WorkerId)).Reasons, r => r.Code == "receipt-mismatch");
        Assert.Equal(0, book.State(honest.WorkerId).ReceiptMismatches);
        var slash = Assert.Single(await slashes.ForProviderAsync(ProviderDirectory.LocalProviderId, 10, _ct));
        var decided = network.Gateway.Services.GetRequiredService<IOptions<StakeOptions>>().Value.Policy().Decide(Fault.ReceiptMismatch, before.AtStake);
        Assert.Equal(nameof(Fault.ReceiptMismatch), slash.Fault);
        Assert.Equal(ReceiptAudit.FaultKey(billed.RequestId, 0), slash.FaultKey);
        Assert.Equal(decided.Amount, slash.Amount);
        Assert.Equal(decided.ToUser, slash.ToUser);
        Assert.Contains("\"claimedCompletionTokens\":\"24\"", slash.Evidence, StringComparison.Ordinal);
        Assert.DoesNotContain("Once upon a time", slash.Evidence, StringComparison.Ordinal);
        var after = await network.Gateway.Services.GetRequiredService<StakeReader>().ReadAsync(providerWallet, _ct);
        Assert.Equal(before.Stake - decided.Amount, after.Stake);
        Assert.Equal(slash.ReasonHash, after.LastSlashReason);
        Assert.Equal(payerBefore - billed.TotalCostNanotons + decided.ToUser, await network.Ledger.GetBalanceAsync(payer, _ct));

        // The slashed TON at the network wallet is the slash's proceeds, not an unmatched deposit.
        await using (var scope = network.Gateway.Services.CreateAsyncScope())
        {
            await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(_ct);
            var receipts = scope.ServiceProvider.GetRequiredService<ChainDbContext>().Receipts;
            var proceeds = await receipts.SingleAsync(r => r.Comment == slash.ReasonHash, _ct);
            Assert.Equal(DepositOutcome.Slash, proceeds.Outcome);
            Assert.Equal(slash.Amount, proceeds.Amount);
            Assert.False(await receipts.AnyAsync(r => r.Outcome == DepositOutcome.Unmatched && r.Amount == slash.Amount, _ct));
        }

        var check = await LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<LedgerDatabase>(), _ct);
        Assert.True(check.Ok, check.Summary);
    }
}

/// <summary>
/// The real inference service, billing more than it did: it generates <paramref name="unbilledShortfall"/> tokens fewer
/// than asked and signs a receipt for max_tokens ("claim the maximum"), sealing the token ids it really drew. A
/// test-only seam: no configuration reaches it.
/// </summary>
public sealed class OverclaimingInference(IInferenceService inner, int unbilledShortfall) : IInferenceService
{
    public ModelInfo Model => inner.Model;

    public int MaxConcurrency => inner.MaxConcurrency;

    public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var shorter = request with { Sampling = request.Sampling with { MaxTokens = Math.Max(1, request.Sampling.MaxTokens - unbilledShortfall) } };
        await foreach (var chunk in inner.GenerateAsync(shorter, cancellationToken).ConfigureAwait(false))
        {
            yield return chunk.Usage is { } usage ? chunk with { Usage = usage with { CompletionTokens = request.Sampling.MaxTokens } } : chunk;
        }
    }
}
