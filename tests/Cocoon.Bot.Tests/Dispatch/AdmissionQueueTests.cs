using Cocoon.Bot.Dispatch;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Waiting instead of refusing: a burst is served as slots free up; only a full queue answers 429.</summary>
public sealed class AdmissionQueueTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromMinutes(10)).Token;

    [Fact]
    public async Task Forty_concurrent_requests_to_one_8_slot_worker_all_succeed_within_the_queue_deadline()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:QueueWait"] = "00:05:00" });
        await network.StartAsync(_ct);
        var (_, session) = await network.StartWorkerAsync(_ct, new Dictionary<string, string?> { ["Llama:MaxConcurrency"] = "8" });
        Assert.Equal(8, session.MaxConcurrency);
        var payer = await network.FundedPayerAsync(10_000_000_000, _ct);

        var asks = Enumerable.Range(0, 40)
            .Select(i => network.AskAsync(DispatchNetwork.Request(payer, "Once upon a time " + i, 2) with { Timeout = TimeSpan.FromMinutes(6) }, _ct))
            .ToArray();
        var answers = await Task.WhenAll(asks);

        Assert.Equal(40, answers.Length);
        Assert.All(answers, a => Assert.Equal(session.WorkerId, a.Receipt.WorkerId));
        Assert.Equal(40, answers.Select(a => a.Receipt.RequestId).Distinct().Count());
        var queue = network.Gateway.Services.GetRequiredService<AdmissionQueue>();
        Assert.Equal(0, queue.TotalDepth);
    }

    [Fact]
    public async Task A_full_queue_answers_busy_with_a_retry_after_from_the_measured_service_rate()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:QueueDepth"] = "1", ["Gateway:QueueWait"] = "00:05:00" });
        await network.StartAsync(_ct);
        using var worker = await ScriptedWorker.CreateAsync(network, _ct, maxConcurrency: 1);
        await worker.RegisterAsync(TimeSpan.FromSeconds(60), _ct);
        await network.WaitForWorkerAsync(worker.WorkerId, _ct);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var queue = network.Gateway.Services.GetRequiredService<AdmissionQueue>();

        // Two answered jobs: the gateway has measured how fast slots free up.
        for (var i = 0; i < 2; i++)
        {
            var ask = network.AskAsync(DispatchNetwork.Request(payer, "warm " + i, 16, ScriptedWorker.ModelName), _ct);
            using var job = await worker.NextJobAsync(_ct);
            await job.FinishAsync(1, 0, _ct);
            await ask;
        }

        var model = worker.Bundle.Document.ModelSha256;
        Assert.NotNull(queue.ServiceRate(model));

        var first = network.AskAsync(DispatchNetwork.Request(payer, "one", 16, ScriptedWorker.ModelName), _ct);
        using var running = await worker.NextJobAsync(_ct);
        var second = network.AskAsync(DispatchNetwork.Request(payer, "two", 16, ScriptedWorker.ModelName), _ct);
        while (queue.Depth(model) < 1)
        {
            await Task.Delay(20, _ct);
        }

        var busy = await Assert.ThrowsAsync<WorkersBusyException>(() => network.AskAsync(DispatchNetwork.Request(payer, "three", 16, ScriptedWorker.ModelName), _ct));
        Assert.Equal(queue.RetryAfter(model, 2, TimeSpan.Zero), busy.RetryAfter);
        Assert.True(busy.RetryAfter >= TimeSpan.FromSeconds(1));

        // The waiting request is served once the slot frees.
        await running.FinishAsync(1, 0, _ct);
        await first;
        using var waited = await worker.NextJobAsync(_ct);
        Assert.Equal("two", waited.Request.Prompt);
        await waited.FinishAsync(1, 0, _ct);
        await second;
    }

    [Fact]
    public async Task Turns_go_round_robin_by_payer_so_one_burst_does_not_starve_another_caller()
    {
        var queue = new AdmissionQueue(100, TimeProvider.System);
        var deadline = DateTimeOffset.UtcNow.AddMinutes(5);
        var burst = Enumerable.Range(0, 5).Select(_ => Enter(queue, "burst", deadline)).ToArray();
        var single = Enter(queue, "single", deadline);

        queue.Released("m");
        queue.Released("m");

        // The single caller's request gets the second turn, not the sixth.
        Assert.True(burst[0].HasTurn);
        Assert.True(single.HasTurn);
        Assert.All(burst[1..], t => Assert.False(t.HasTurn));
        Assert.True(await single.WaitTurnAsync(deadline, _ct));
        foreach (var t in burst.Append(single))
        {
            t.Dispose();
        }

        Assert.Equal(0, queue.TotalDepth);
    }

    private static AdmissionQueue.Ticket Enter(AdmissionQueue queue, string payer, DateTimeOffset deadline)
    {
        Assert.Equal(AdmissionRefusal.None, queue.TryEnter("m", payer, deadline, out var ticket));
        return ticket!;
    }
}
