using System.Text.Json;
using Cocoon.Engine.Crypto;
using Microsoft.Extensions.Time.Testing;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// The worker's side of the README's promises about jobs: a cancel that arrives while a job is still queued is
/// remembered, a redelivered job is refused rather than run twice, and the gateway's cancels on a stall or a deadline
/// stop the generation. Real worker host, real Redis, real HPKE; the inference service is a counting stand-in.
/// </summary>
public sealed class WorkerJobTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(120)).Token;

    /// <summary>A network with one real worker host whose inference counts the prompts it is given, and a result stream of our own.</summary>
    private async Task<(CountingInference Inference, WorkerSession Session, JobProcessor Processor, string ReplyTo)> CountingWorkerAsync(DispatchNetwork network)
    {
        await network.StartAsync(_ct);
        var inference = new CountingInference();
        var (host, session) = await network.StartWorkerAsync(_ct, inference: inference);
        return (inference, session, host.Services.GetRequiredService<JobProcessor>(), "gw-" + Guid.NewGuid().ToString("N")[..8]);
    }

    [Fact]
    public async Task A_cancel_for_a_job_still_queued_is_remembered_and_the_job_never_runs()
    {
        await using var network = new DispatchNetwork(redis.Server);
        var (inference, session, processor, replyTo) = await CountingWorkerAsync(network);

        // The gateway gave up before the worker read the entry: the cancel comes first, the job after.
        var (queued, cancelMac) = Sealed(session, "r-queued", replyTo, deliveries: 1);
        processor.Cancel("r-queued", 0, cancelMac);
        await processor.ProcessAsync(session, queued, _ct);

        // A control job, not cancelled, runs: the stand-in is called and the worker answers.
        await processor.ProcessAsync(session, SealedJob(session, "r-control", replyTo, deliveries: 1), _ct);

        var results = await ReadResultsAsync(network, replyTo, 2);
        Assert.Contains(results, r => r is { RequestId: "r-queued", Kind: ResultKind.Error, Error: "cancelled" });
        Assert.DoesNotContain(results, r => r.RequestId == "r-queued" && r.Kind != ResultKind.Error);
        Assert.Contains(results, r => r is { RequestId: "r-control", Kind: ResultKind.Final });
        Assert.Equal(["Once"], inference.Prompts);
    }

    [Fact]
    public async Task A_redelivered_job_is_refused_not_run_twice_and_not_dead_lettered()
    {
        await using var network = new DispatchNetwork(redis.Server);
        var (inference, session, processor, replyTo) = await CountingWorkerAsync(network);

        // The same entry delivered a second time (the worker died after starting it, the entry was reclaimed).
        await processor.ProcessAsync(session, SealedJob(session, "r-again", replyTo, deliveries: 2), _ct);

        var result = Assert.Single(await ReadResultsAsync(network, replyTo, 1));
        Assert.Equal(("r-again", ResultKind.Error, "redelivered"), (result.RequestId, result.Kind, result.Error));
        Assert.Empty(inference.Prompts);
        Assert.Empty(await network.Gateway.Services.GetRequiredService<JobStreams>().ReadDeadLettersAsync(10, _ct));
    }

    [Fact]
    public async Task A_stalled_stream_is_cancelled_on_the_worker()
    {
        // The stream stalls after one piece; the request's own deadline is far away, so only the gateway's stall
        // detection, and the cancel it sends, can stop the generation now.
        await using var network = new DispatchNetwork(redis.Server, new Dictionary<string, string?> { ["Gateway:StallTimeout"] = "00:00:00.500" });
        await network.StartAsync(_ct);
        var stalling = new StallingInference();
        await network.StartWorkerAsync(_ct, inference: stalling);
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 4000, model: stalling.Model.Name) with { Timeout = TimeSpan.FromMinutes(5) };

        using var caller = CancellationTokenSource.CreateLinkedTokenSource(_ct);
        var dispatch = Task.Run(async () =>
        {
            await foreach (var _ in network.Dispatcher.DispatchAsync(request, caller.Token))
            {
            }
        }, CancellationToken.None);

        var reason = await stalling.Stopped.WaitAsync(_ct);
        Assert.Equal("cancelled", reason);

        // The gateway counts the attempt as stalled (just after sending the cancel).
        while (network.Refusals.GetValueOrDefault("stalled") == 0)
        {
            await Task.Delay(20, _ct);
        }

        await caller.CancelAsync();
        // No other worker to re-dispatch to: the caller gets an error (or its own cancel), never an answer.
        Assert.NotNull(await Record.ExceptionAsync(() => dispatch));
        Assert.Equal(1_000_000_000, await WaitForBalanceAsync(network, payer, 1_000_000_000));
    }

    [Fact]
    public async Task At_the_gateway_deadline_its_cancel_stops_the_generation_and_nothing_is_charged()
    {
        // The worker's own deadline clock is held still, so its own timer never fires: only the cancel the gateway
        // sends when the request's deadline passes can stop the generation.
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        var stalling = new StallingInference();
        var (host, _) = await network.StartWorkerAsync(_ct, inference: stalling, jobDeadlines: new FakeTimeProvider(DateTimeOffset.UtcNow));
        var payer = await network.FundedPayerAsync(1_000_000_000, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 4000, model: stalling.Model.Name) with { Timeout = TimeSpan.FromSeconds(2) };

        await Assert.ThrowsAsync<TimeoutException>(async () =>
        {
            await foreach (var _ in network.Dispatcher.DispatchAsync(request, _ct))
            {
            }
        });

        Assert.Equal("cancelled", await stalling.Stopped.WaitAsync(_ct));
        await DispatchNetwork.WaitForIdleAsync(host, _ct);

        Assert.Equal(1_000_000_000, await WaitForBalanceAsync(network, payer, 1_000_000_000));
    }

    [Fact]
    public async Task At_its_own_deadline_the_worker_stops_the_generation_and_answers_expired()
    {
        // No gateway listens and none sends a cancel: the job's deadline, on the worker's own clock, must stop it.
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var network = new DispatchNetwork(redis.Server);
        await network.StartAsync(_ct);
        var stalling = new StallingInference();
        var (host, session) = await network.StartWorkerAsync(_ct, inference: stalling, jobDeadlines: clock);
        var processor = host.Services.GetRequiredService<JobProcessor>();
        var replyTo = "gw-" + Guid.NewGuid().ToString("N")[..8];

        var running = processor.ProcessAsync(session, SealedJob(session, "r-deadline", replyTo, deliveries: 1), _ct);
        await stalling.Started.WaitAsync(_ct);
        Assert.False(stalling.Stopped.IsCompleted);

        clock.Advance(TimeSpan.FromMinutes(2)); // past the job's deadline (a minute after it was sealed)
        Assert.Equal("cancelled", await stalling.Stopped.WaitAsync(_ct));
        await running.WaitAsync(_ct);

        var result = Assert.Single(await ReadResultsAsync(network, replyTo, 1));
        Assert.Equal(("r-deadline", ResultKind.Error, "expired"), (result.RequestId, result.Kind, result.Error));
    }

    private static async Task<long> WaitForBalanceAsync(DispatchNetwork network, Cocoon.Ledger.Accounts.AccountId payer, long expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        long balance;
        while ((balance = await network.Ledger.GetBalanceAsync(payer, timeout.Token)) != expected)
        {
            await Task.Delay(20, timeout.Token); // the hold is released as the dispatch unwinds
        }

        return balance;
    }

    private async Task<IReadOnlyList<ResultEnvelope>> ReadResultsAsync(DispatchNetwork network, string replyTo, int count)
    {
        var streams = network.Gateway.Services.GetRequiredService<ResultStreams>();
        while (true)
        {
            var read = await streams.ReadAsync(replyTo, "0-0", 100, TimeSpan.FromMilliseconds(10), _ct);
            var final = read.Select(r => r.Envelope).Where(e => e is not null && (e.Kind != ResultKind.Chunk)).ToList();
            if (final.Count >= count)
            {
                return final!;
            }

            await Task.Delay(20, _ct);
        }
    }

    private static JobEntry SealedJob(WorkerSession session, string requestId, string replyTo, int deliveries) =>
        Sealed(session, requestId, replyTo, deliveries).Entry;

    /// <summary>A job sealed as the gateway seals it, and the MAC its gateway's cancel of attempt 0 would carry.</summary>
    private static (JobEntry Entry, byte[] CancelMac) Sealed(WorkerSession session, string requestId, string replyTo, int deliveries)
    {
        var request = new GenerationRequest { Prompt = "Once", Sampling = new SamplingOptions { MaxTokens = 4, Temperature = 0 } };
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.GenerationRequest);
        var deadline = DateTimeOffset.UtcNow.AddMinutes(1);
        using var sender = Hpke.SetupSender(session.Identity.Sealing.PublicKey, JobBinding.Info(requestId, 0, session.WorkerId, session.ModelSha256, deadline));
        var ciphertext = sender.Seal(JobBinding.Aad(replyTo), plaintext);
        using var control = JobControlKey.Create(sender);
        var envelope = new JobEnvelope
        {
            RequestId = requestId,
            Attempt = 0,
            WorkerId = session.WorkerId,
            ModelSha256 = session.ModelSha256,
            ReplyTo = replyTo,
            RecipientKey = session.Identity.Sealing.PublicKey,
            EncapsulatedKey = sender.Enc,
            Ciphertext = ciphertext,
            IssuedAt = DateTimeOffset.UtcNow,
            Deadline = deadline,
        };
        return (new JobEntry("0-1", JsonSerializer.SerializeToUtf8Bytes(envelope, WireJsonContext.Default.JobEnvelope), Deliveries: deliveries),
            control.Cancel(requestId, 0, session.WorkerId));
    }

    /// <summary>Answers "fine." to anything, and records every prompt it was asked to run.</summary>
    private sealed class CountingInference : IInferenceService
    {
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _prompts = new();

        public ModelInfo Model { get; } = new("counting-test", new string('c', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

        public int MaxConcurrency => 4;

        public IReadOnlyList<string> Prompts => [.. _prompts];

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            _prompts.Enqueue(request.Prompt ?? string.Empty);
            await Task.Yield();
            yield return new GenerationChunk("fine");
            yield return new GenerationChunk(".", new GenerationUsage(1, 2, FinishReason.Stop, TimeSpan.Zero, TimeSpan.Zero));
        }
    }

    /// <summary>One piece, then silence until cancelled; reports whether it was stopped by a cancel.</summary>
    private sealed class StallingInference : IInferenceService
    {
        private readonly TaskCompletionSource<string> _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public ModelInfo Model { get; } = new("stalling-test", new string('f', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

        public int MaxConcurrency => 4;

        public Task<string> Stopped => _stopped.Task;

        /// <summary>Completes once the first piece has been handed to the worker.</summary>
        public Task Started => _started.Task;

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            yield return new GenerationChunk("Once");
            _started.TrySetResult();
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            finally
            {
                _stopped.TrySetResult(cancellationToken.IsCancellationRequested ? "cancelled" : "ended");
            }
        }
    }
}
