using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Matching;
using Cocoon.Ledger.Checks;
using Cocoon.Ledger.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Reputation;

/// <summary>
/// Three real llama.cpp workers on one model, all promising the standard class: an honest one, a cheater that
/// truncates its answers, and a slow one. Blind canaries catch the cheater, the slow one's breaches are refunded.
/// </summary>
public sealed class HonestMarketTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(240)).Token;

    [Fact]
    public async Task Canaries_catch_and_rank_out_a_truncating_worker_a_slow_one_refunds_and_the_honest_one_is_untouched()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?>
        {
            ["Gateway:Sla:StandardFirstToken"] = "00:00:03",
            ["Gateway:Sla:StandardTokensPerSecond"] = "0",
        });
        await network.StartAsync(_ct);
        static Dictionary<string, string?> Declared(string region) => new() { ["Worker:SlaClass"] = "standard", ["Worker:Region"] = region };
        var (_, honest) = await network.StartWorkerAsync(_ct, Declared("local"));
        var (_, cheater) = await network.StartWorkerAsync(_ct, Declared("eu"), wrap: inner => new TruncatingInference(inner, 3));
        var (_, slow) = await network.StartWorkerAsync(_ct, Declared("us"), wrap: inner => new SlowInference(inner, TimeSpan.FromSeconds(4)));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        Ask Standard(string region) => new(DispatchNetwork.Request(payer, "Once upon a time", 24) with { SlaClass = SlaClass.Standard, Region = region });

        // The network's own answer for the bank, computed on the honest worker (temperature 0).
        var (known, reference) = await network.AskAsync(Standard("local").Request, _ct);
        Assert.Equal(honest.WorkerId, reference.WorkerId);
        var canaries = network.Gateway.Services.GetRequiredService<Canaries>();
        canaries.Add(new CanaryEntry { ModelSha256 = honest.ModelSha256, Prompt = "Once upon a time", MaxTokens = 24, AnswerSha256 = Canaries.AnswerHash(known) });

        // Before any canary, the cheater serves a user (region eu) a truncated answer; the slow one breaches (us).
        var (cut, cutReceipt) = await network.AskAsync(Standard("eu").Request, _ct);
        Assert.Equal(cheater.WorkerId, cutReceipt.WorkerId);
        Assert.NotEqual(known, cut);
        var (_, late) = await network.AskAsync(Standard("us").Request, _ct);
        Assert.Equal(slow.WorkerId, late.WorkerId);
        Assert.Equal(SlaRefunds.Refund(late.TotalCostNanotons + late.SlaRefundNanotons, 500), late.SlaRefundNanotons);
        Assert.True(late.SlaRefundNanotons > 0);

        // One canary each: only the cheater fails, and falls far below the floor at once.
        Assert.Equal(CanaryResult.Passed, await canaries.SendAsync(honest.WorkerId, _ct));
        Assert.Equal(CanaryResult.Failed, await canaries.SendAsync(cheater.WorkerId, _ct));
        Assert.Equal(CanaryResult.Passed, await canaries.SendAsync(slow.WorkerId, _ct));
        var book = network.Gateway.Services.GetRequiredService<ReputationBook>();
        Assert.True(book.Score(cheater.WorkerId) < 0.5, $"cheater {book.Score(cheater.WorkerId)}");
        Assert.Contains(book.Model.Score(book.State(cheater.WorkerId)).Reasons, r => r.Code == "integrity-fault");

        // The cheater gets nothing more, even where it would rank first; the honest worker serves.
        var cheaterJobs = book.State(cheater.WorkerId).Jobs;
        for (var i = 0; i < 3; i++)
        {
            var (text, receipt) = await network.AskAsync(Standard("eu").Request, _ct);
            Assert.NotEqual(cheater.WorkerId, receipt.WorkerId);
            Assert.Equal(known, text);
        }

        Assert.Equal(cheaterJobs, book.State(cheater.WorkerId).Jobs);

        // The honest worker: every job on time, its canary passed, no refund, the best score of the three.
        var honestState = book.State(honest.WorkerId);
        Assert.Equal(1, honestState.CanariesPassed);
        Assert.Equal(0, honestState.CanariesFailed + honestState.SlowFirstToken + honestState.Failed + honestState.Abandoned);
        Assert.Equal(0, reference.SlaRefundNanotons);
        Assert.True(book.Score(honest.WorkerId) > book.Score(slow.WorkerId));
        Assert.True(book.Score(honest.WorkerId) > 0.9);
        Assert.Contains(book.Model.Score(book.State(slow.WorkerId)).Reasons, r => r.Code == "sla-first-token");
        var report = await LedgerChecker.CheckAsync(network.Gateway.Services.GetRequiredService<LedgerDatabase>(), _ct);
        Assert.True(report.Ok, report.Summary);
    }

    private sealed record Ask(DispatchRequest Request);
}
