using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Cocoon.Bot.Tests.Dispatch;

public sealed class RedisFixture : IDisposable
{
    public RedisServer Server { get; } = new();

    public void Dispose() => Server.Dispose();
}

public sealed class DispatchEndToEndTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Fact]
    public async Task A_prompt_is_answered_through_redis_sealed_and_billed_from_the_receipt()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var (worker, session) = await stack.StartWorkerAsync(_ct);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 24);

        var (text, receipt) = await stack.AskAsync(request, _ct);

        // The same request straight into the inference service gives the same answer (greedy sampling).
        var direct = new StringBuilder();
        GenerationUsage? usage = null;
        await foreach (var chunk in worker.Services.GetRequiredService<IInferenceService>().GenerateAsync(request.Generation, _ct))
        {
            direct.Append(chunk.Text);
            usage = chunk.Usage ?? usage;
        }

        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Equal(direct.ToString(), text);
        Assert.Equal(session.WorkerId, receipt.WorkerId);
        Assert.Equal("local", receipt.ProviderId);
        Assert.Equal("simulated", receipt.AttestationKind);
        Assert.Equal(usage!.PromptTokens, receipt.PromptTokens);
        Assert.Equal(usage.CompletionTokens, receipt.CompletionTokens);
        Assert.True(receipt.TotalCostNanotons > 0);
        Assert.True(receipt.GatewayStart <= receipt.WorkerStart && receipt.WorkerEnd <= receipt.GatewayEnd);

        // Billed exactly what the receipt says, once; the provider and the network got it.
        Assert.Equal(1_000_000_000 - receipt.TotalCostNanotons, await stack.Ledger.GetBalanceAsync(payer, _ct));
        var provider = await stack.Ledger.GetBalanceAsync(AccountId.Provider("local"), _ct);
        var fee = await stack.Ledger.GetBalanceAsync(AccountId.NetworkFee, _ct);
        var rounding = await stack.Ledger.GetBalanceAsync(AccountId.Rounding, _ct);
        Assert.Equal(receipt.TotalCostNanotons, provider + fee + rounding);
        Assert.True(provider > 0 && fee > 0);

        // Nothing in Redis holds the prompt or the answer in plaintext.
        await AssertRedisHoldsNoPlaintextAsync(stack, ["Once upon a time", text.Trim()]);
        Assert.DoesNotContain(stack.Logs, l => l.Contains("Once upon a time", StringComparison.Ordinal) || l.Contains(text.Trim(), StringComparison.Ordinal));

        // The served-models view lists the worker with its load.
        var model = Assert.Single(await stack.Dispatcher.GetModelsAsync(_ct));
        Assert.Equal("stories260K", model.Name);
        Assert.Equal(session.WorkerId, Assert.Single(model.Workers).WorkerId);
    }

    [Fact]
    public async Task Concurrent_requests_all_complete_without_exceeding_the_cap()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        // llama.cpp here could run 4 at once; the worker is capped at 2. The peak is counted where the generations run.
        PeakCountingInference? counting = null;
        await stack.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Worker:MaxConcurrency"] = "2" }, wrap: inner => counting = new PeakCountingInference(inner));
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);

        var results = await Task.WhenAll(Enumerable.Range(0, 6).Select(async i =>
        {
            for (var tries = 0; ; tries++)
            {
                try
                {
                    return await stack.AskAsync(DispatchNetwork.Request(payer, "Tom had a dog", 8), _ct);
                }
                catch (WorkersBusyException busy) when (tries < 200)
                {
                    Assert.True(busy.RetryAfter > TimeSpan.Zero);
                    await Task.Delay(50, _ct);
                }
            }
        }));

        Assert.NotNull(counting);
        Assert.Equal(0, counting.Current);
        Assert.InRange(counting.Peak, 1, 2);
        Assert.All(results, r => Assert.Equal(results[0].Text, r.Text));
        var spent = results.Sum(r => r.Receipt.TotalCostNanotons);
        Assert.Equal(1_000_000_000 - spent, await stack.Ledger.GetBalanceAsync(payer, _ct));
    }

    internal static async Task AssertRedisHoldsNoPlaintextAsync(DispatchNetwork stack, IEnumerable<string> secrets)
    {
        // The privacy proof's scanner: every key of every type (lists, sets and sorted sets too) under our prefix.
        var contents = await Privacy.RedisContents.ReadAsync(stack.Connection, stack.Prefix + "*");
        Assert.Contains(contents, c => c.Where.Contains("jobs:", StringComparison.Ordinal));
        foreach (var secret in secrets)
        {
            var needle = Encoding.UTF8.GetBytes(secret);
            Assert.DoesNotContain(contents, c => c.Bytes.AsSpan().IndexOf(needle) >= 0);
        }
    }
}
