using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Pricing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// A conversation's turns through the whole gateway and a real worker: the second turn starts from the worker's
/// prefix cache (the receipt says how many prompt tokens), is billed exactly at the cached-prompt price for them, is
/// routed back to the worker that holds the cache, and no other payer's request ever gets those cached tokens.
/// </summary>
public sealed class DispatchPrefixCacheTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    [Fact]
    public async Task A_second_turn_uses_the_cache_gives_the_same_answer_and_is_billed_less_exactly()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        await stack.StartWorkerAsync(_ct);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);
        var other = await stack.FundedPayerAsync(1_000_000_000, _ct);

        var (first, firstReceipt) = await stack.AskAsync(Turn(payer, "Once upon a time", "chat-1"), _ct);
        Assert.Equal(0, firstReceipt.CachedPromptTokens);
        var history = "Once upon a time" + first + " Then Tom said";

        var (cached, receipt) = await stack.AskAsync(Turn(payer, history, "chat-1"), _ct);
        var (fresh, freshReceipt) = await stack.AskAsync(Turn(payer, history, "chat-2"), _ct);
        var (otherPayers, otherReceipt) = await stack.AskAsync(Turn(other, history, "chat-1"), _ct);

        // The same answer with and without the cache; only the same payer's same conversation gets the cached tokens.
        Assert.Equal(fresh, cached);
        Assert.Equal(fresh, otherPayers);
        Assert.InRange(receipt.CachedPromptTokens, firstReceipt.PromptTokens, receipt.PromptTokens - 1);
        Assert.Equal(0, freshReceipt.CachedPromptTokens);
        Assert.Equal(0, otherReceipt.CachedPromptTokens);
        Assert.Equal((freshReceipt.PromptTokens, freshReceipt.CompletionTokens), (receipt.PromptTokens, receipt.CompletionTokens));

        // Billed exactly: the cached tokens at the cached-prompt price, the rest as before; so less than the fresh turn.
        var prices = stack.Gateway.Services.GetRequiredService<PriceTable>();
        var worker = Assert.Single(stack.Directory.Eligible);
        var expected = prices.Charge("stories260K", new TokenUsage(receipt.PromptTokens, receipt.CachedPromptTokens, receipt.CompletionTokens), worker.PriceCoefficient, 4000);
        var uncached = prices.Charge("stories260K", TokenUsage.Of(receipt.PromptTokens, receipt.CompletionTokens), worker.PriceCoefficient, 4000);
        Assert.Equal(expected.Total, receipt.TotalCostNanotons);
        Assert.Equal(uncached.Total, freshReceipt.TotalCostNanotons);
        Assert.True(receipt.TotalCostNanotons < freshReceipt.TotalCostNanotons);
        Assert.Equal(1_000_000_000 - firstReceipt.TotalCostNanotons - receipt.TotalCostNanotons - freshReceipt.TotalCostNanotons,
            await stack.Ledger.GetBalanceAsync(payer, _ct));
    }

    [Fact]
    public async Task The_next_turn_goes_back_to_the_worker_that_holds_the_cache()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        await stack.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Id"] = "a-worker" });
        await stack.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:Id"] = "b-worker", ["Worker:Region"] = "eu" });
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);

        // The first turn prefers region eu, so it lands on b-worker (by id alone a-worker ranks first).
        var (first, firstReceipt) = await stack.AskAsync(Turn(payer, "One day, a cat", "chat-1") with { Region = "eu" }, _ct);
        Assert.Equal("b-worker", firstReceipt.WorkerId);

        var history = "One day, a cat" + first + " The cat";
        var (_, second) = await stack.AskAsync(Turn(payer, history, "chat-1"), _ct);
        // Another conversation has no affinity: it follows the ranking, here a region (b-worker's two completed jobs
        // would otherwise give it the better reputation, the next tie-break).
        var (_, elsewhere) = await stack.AskAsync(Turn(payer, history, "chat-2") with { Region = "local" }, _ct);
        Assert.Equal("b-worker", second.WorkerId);
        Assert.True(second.CachedPromptTokens > 0);
        Assert.Equal("a-worker", elsewhere.WorkerId);
        Assert.Equal(0, elsewhere.CachedPromptTokens);
    }

    private static DispatchRequest Turn(Ledger.Accounts.AccountId payer, string prompt, string conversation) =>
        DispatchNetwork.Request(payer, prompt, 24) with { Conversation = conversation };
}
