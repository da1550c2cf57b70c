using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Matching;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>SLA classes on the dispatch path: real llama.cpp workers, a real redis-server and the SQLite ledger.</summary>
public sealed class SlaRefundTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(180)).Token;

    private static readonly Dictionary<string, string?> Standard = new() { ["Worker:SlaClass"] = "standard" };

    [Fact]
    public async Task A_worker_too_slow_for_its_class_refunds_the_user_exactly_from_its_earnings_and_ranks_out_while_a_fast_one_does_not()
    {
        // The standard class promises the first piece within 3 s (no speed target here, so only the delay decides).
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?>
        {
            ["Gateway:Sla:StandardFirstToken"] = "00:00:03",
            ["Gateway:Sla:StandardTokensPerSecond"] = "0",
            ["Gateway:Sla:RefundPerMille"] = "500",
        });
        await network.StartAsync(_ct);
        var (_, slow) = await network.StartWorkerAsync(_ct, Standard, wrap: inner => new SlowInference(inner, TimeSpan.FromSeconds(4)));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var provider = AccountId.Provider("local");
        var providerBefore = await network.Ledger.GetBalanceAsync(provider, _ct);

        // A standard request on the slow worker: half the charge comes back, in whole nanotons, from the provider.
        var standard = DispatchNetwork.Request(payer, "Once upon a time", 24) with { SlaClass = SlaClass.Standard };
        var (_, breached) = await network.AskAsync(standard, _ct);
        Assert.Equal(slow.WorkerId, breached.WorkerId);
        var charged = breached.TotalCostNanotons + breached.SlaRefundNanotons;
        Assert.True(charged > 0);
        Assert.Equal(SlaRefunds.Refund(charged, 500), breached.SlaRefundNanotons);
        Assert.Equal(charged / 2, breached.SlaRefundNanotons);

        // A best-effort request promises nothing: no refund however slow (the worker's reputation still counts it).
        var (_, bestEffort) = await network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time", 24), _ct);
        Assert.Equal(slow.WorkerId, bestEffort.WorkerId);
        Assert.Equal(0, bestEffort.SlaRefundNanotons);

        // Two slow jobs take it below the floor; a fast standard worker serves the next standard request, unrefunded.
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        Assert.True(book.Score(slow.WorkerId) < 0.85, $"slow {book.Score(slow.WorkerId)}");
        Assert.Contains(book.Model.Score(book.State(slow.WorkerId)).Reasons, r => r.Code == "sla-first-token");
        var (_, fast) = await network.StartWorkerAsync(_ct, Standard);
        var (_, met) = await network.AskAsync(standard with { RequestId = standard.RequestId + "-fast" }, _ct);
        Assert.Equal(fast.WorkerId, met.WorkerId);
        Assert.Equal(0, met.SlaRefundNanotons);

        // The ledger: the payer paid the three net costs, the provider earned its shares less the refund, one refund
        // entry keyed by the request, and every invariant holds.
        var paid = breached.TotalCostNanotons + bestEffort.TotalCostNanotons + met.TotalCostNanotons;
        Assert.Equal(1_000_000_000 - paid, await network.Ledger.GetBalanceAsync(payer, _ct));
        var accounts = network.Gateway.Services.GetRequiredService<ILedgerAccounts>();
        var refundEntry = Assert.Single(await accounts.GetRecentEntriesAsync(payer, 20, _ct), e => e.Reference == SlaRefunds.KeyPrefix + standard.RequestId);
        Assert.Equal(breached.SlaRefundNanotons, refundEntry.Amount);
        var providerEntries = await accounts.GetRecentEntriesAsync(provider, 20, _ct);
        Assert.Equal(-breached.SlaRefundNanotons, Assert.Single(providerEntries, e => e.Reference == SlaRefunds.KeyPrefix + standard.RequestId).Amount);
        Assert.Equal(providerEntries.Sum(e => e.Amount), await network.Ledger.GetBalanceAsync(provider, _ct) - providerBefore);
        var report = await LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<LedgerDatabase>(), _ct);
        Assert.True(report.Ok, report.Summary);
    }
}
