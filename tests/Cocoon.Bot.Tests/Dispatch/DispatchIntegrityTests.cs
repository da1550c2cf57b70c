using Cocoon.Ledger.Accounts;
using Cocoon.Engine.Protocol;
using Cocoon.Bot.Dispatch;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>Entries injected into the result stream (by anyone who can write to Redis) never reach the user.</summary>
public sealed class DispatchIntegrityTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token;

    /// <summary>Starts the network with one scripted (hand-driven) worker registered and a funded payer.</summary>
    private async Task<(ScriptedWorker Worker, AccountId Payer)> ScriptedWorkerAsync(DispatchNetwork network)
    {
        await network.StartAsync(_ct);
        var worker = await ScriptedWorker.CreateAsync(network, _ct);
        await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
        await network.WaitForWorkerAsync(worker.WorkerId, _ct);
        return (worker, await network.FundedPayerAsync(1_000_000_000, _ct));
    }

    [Fact]
    public async Task Replayed_reordered_and_tampered_chunks_are_refused_and_the_user_gets_one_clean_answer()
    {
        await using var network = new DispatchNetwork(redis.Server);
        var (worker, payer) = await ScriptedWorkerAsync(network);
        using var disposeWorker = worker;

        var asking = network.AskAsync(DispatchNetwork.Request(payer, "hello", 16, ScriptedWorker.ModelName), _ct);

        // Attempt 0: a genuine chunk, its replay (dropped), then the worker's own chunk 2 while chunk 1 never came
        // (deleted from the stream): a gap in an authentic stream, so the attempt is refused.
        using (var job = await worker.NextJobAsync(_ct))
        {
            Assert.Equal(0, job.Job.Attempt);
            Assert.Equal("hello", job.Request.Prompt);
            var first = await job.SendPieceAsync("Hello", _ct);
            await job.SendRawAsync(first, _ct);
            _ = job.Sealer.Seal(" lost"u8, isFinal: false);
            await job.SendRawAsync(job.Chunk(job.Sealer.Seal(" after"u8, isFinal: false)), _ct);
        }

        // Attempt 1 (re-sealed, new key): entries anyone with Redis access could write are dropped without ending
        // the attempt: a copy moved to a later position, an altered chunk, a made-up final chunk, and errors with no
        // MAC or a wrong one. The worker's genuine stream then completes it. It resumes: its sealed request carries
        // what the user already has, and it writes only the rest.
        using (var job = await worker.NextJobAsync(_ct))
        {
            Assert.Equal(1, job.Job.Attempt);
            Assert.Equal("Hello", job.Request.Continuation);
            var first = await job.SendPieceAsync(" world", _ct);
            await job.SendRawAsync(first with { Sequence = 7 }, _ct);
            var genuine = job.Chunk(job.Sealer.Seal("!"u8, isFinal: false));
            job.SentText.AddRange("!"u8.ToArray()); // sealed by hand, so the receipt's response hash covers it too
            var tampered = (byte[])genuine.Ciphertext!.Clone();
            tampered[0] ^= 1;
            await job.SendRawAsync(genuine with { Ciphertext = tampered }, _ct);
            await job.SendRawAsync(genuine with { Kind = ResultKind.Final, Ciphertext = new byte[32] }, _ct);
            await job.SendRawAsync(genuine with { Kind = ResultKind.Error, Ciphertext = null, Error = "worker-failed" }, _ct);
            await job.SendRawAsync(genuine with { Kind = ResultKind.Error, Ciphertext = null, Error = "invalid-request", Mac = new byte[32] }, _ct);
            await job.SendRawAsync(genuine, _ct);
            await job.FinishAsync(promptTokens: 2, completionTokens: 2, _ct);
        }

        var (text, receipt) = await asking;
        Assert.Equal("Hello world!", text);
        Assert.Equal(2, receipt.CompletionTokens);
        Assert.True(network.Refusals.GetValueOrDefault("chunk-replayed") >= 1);
        Assert.True(network.Refusals.GetValueOrDefault("chunk-out-of-order") >= 1);
        Assert.True(network.Refusals.GetValueOrDefault("chunk-tampered") >= 3);
        Assert.Equal(2, network.Refusals.GetValueOrDefault("error-unauthenticated"));
        Assert.Equal(1_000_000_000 - receipt.TotalCostNanotons, await network.Ledger.GetBalanceAsync(payer, _ct));
    }

    [Fact]
    public async Task A_receipt_that_does_not_match_the_chunks_is_refused_and_nothing_is_charged()
    {
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:MaxAttempts"] = "1" });
        var (worker, payer) = await ScriptedWorkerAsync(network);
        using var disposeWorker = worker;

        var asking = network.AskAsync(DispatchNetwork.Request(payer, "hello", 16, ScriptedWorker.ModelName), _ct);
        using (var job = await worker.NextJobAsync(_ct))
        {
            await job.SendPieceAsync("Hi", _ct);
            // Signed by the worker, but claiming other ciphertexts than those the gateway opened.
            await job.FinishAsync(2, 1, _ct, r => r with { ChunksSha256 = new byte[32] });
        }

        var failure = await Assert.ThrowsAsync<DispatchFailedException>(() => asking);
        Assert.Equal("attempts-exhausted", failure.Reason);
        Assert.True(network.Refusals.GetValueOrDefault("receipt-invalid") >= 1);
        Assert.Equal(1_000_000_000, await network.Ledger.GetBalanceAsync(payer, _ct));
    }

    [Fact]
    public async Task When_every_worker_is_at_its_cap_the_gateway_answers_busy_with_a_retry_after()
    {
        // No admission queue: busy is an immediate answer (the queue's own tests are in AdmissionQueueTests).
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:QueueDepth"] = "0" });
        await network.StartAsync(_ct);
        using var worker = await ScriptedWorker.CreateAsync(network, _ct, maxConcurrency: 1);
        await worker.RegisterAsync(TimeSpan.FromSeconds(30), _ct);
        await network.WaitForWorkerAsync(worker.WorkerId, _ct);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);

        var first = network.AskAsync(DispatchNetwork.Request(payer, "one", 16, ScriptedWorker.ModelName), _ct);
        using var job = await worker.NextJobAsync(_ct);

        var busy = await Assert.ThrowsAsync<WorkersBusyException>(() => network.AskAsync(DispatchNetwork.Request(payer, "two", 16, ScriptedWorker.ModelName), _ct));
        Assert.True(busy.RetryAfter > TimeSpan.Zero);
        Assert.Equal(1, await worker.QueuedJobsAsync()); // only the first job was enqueued

        await job.SendPieceAsync("ok", _ct);
        await job.FinishAsync(1, 1, _ct);
        Assert.Equal("ok", (await first).Text);
        // The slot is free again.
        var again = network.AskAsync(DispatchNetwork.Request(payer, "three", 16, ScriptedWorker.ModelName), _ct);
        using var next = await worker.NextJobAsync(_ct);
        await next.FinishAsync(1, 0, _ct);
        Assert.Equal(string.Empty, (await again).Text);
    }
}
