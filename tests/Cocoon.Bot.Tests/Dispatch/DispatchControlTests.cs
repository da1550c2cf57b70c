using System.Security.Cryptography;
using System.Text.Json;
using Cocoon.Engine.Crypto;

namespace Cocoon.Bot.Tests.Dispatch;

/// <summary>
/// Control messages and replays written straight into Redis (by a worker, or anyone with Redis access) against a
/// real in-process worker: a forged cancel does not stop a job, a replayed job runs once, a job given another
/// deadline does not open, and jobs sealed to a rotated-out key still run until the key is retired.
/// </summary>
public sealed class DispatchControlTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private readonly CancellationToken _ct = new CancellationTokenSource(TimeSpan.FromSeconds(90)).Token;

    [Fact]
    public async Task A_forged_cancel_does_not_stop_a_running_job_and_the_gateways_own_cancel_does()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var endless = new EndlessInference("endless-control");
        var (worker, session) = await stack.StartWorkerAsync(_ct, inference: endless);
        var payer = await stack.FundedPayerAsync(1_000_000_000, _ct);
        var request = DispatchNetwork.Request(payer, "Once upon a time", 4000, model: endless.Model.Name);

        await stack.DispatchAndLeaveAsync(request, async events =>
        {
            Assert.True(await events.MoveNextAsync());
            Assert.IsType<DispatchPiece>(events.Current);

            // The job is running. A cancel with a made-up MAC, and one in the old unauthenticated form, go straight
            // to the worker's cancel channel.
            var cancellations = stack.Gateway.Services.GetRequiredService<JobCancellations>();
            cancellations.Cancel(session.WorkerId, request.RequestId, 0, RandomNumberGenerator.GetBytes(JobControlKey.MacSize));
            await stack.Connection.GetSubscriber().PublishAsync(stack.Keys.WorkerCancel(session.WorkerId), "0:" + request.RequestId);
            while (!stack.Logs.Any(l => l.Contains("ignored a cancel whose MAC does not verify", StringComparison.Ordinal)))
            {
                await Task.Delay(20, _ct);
            }

            // The worker looked at the forged cancel and let the job run.
            Assert.False(endless.Stopped.IsCompleted);
        }, _ct);

        // The gateway's own cancel (sent as the caller left) carries the right MAC and stops the generation.
        await endless.Stopped.WaitAsync(_ct);
        await DispatchNetwork.WaitForIdleAsync(worker, _ct);

        Assert.Contains(stack.Logs, l => l.Contains("refused: cancelled", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_replayed_job_is_moved_aside_unrun_and_the_gateway_hears_nothing_from_it()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var quick = new QuickInference();
        var (_, session) = await stack.StartWorkerAsync(_ct, inference: quick);
        var replyTo = "gw-replay-" + Guid.NewGuid().ToString("N")[..8];
        var (job, _) = RawJob.Seal(session.Identity.Sealing.PublicKey, "r-replay", session, replyTo, DateTimeOffset.UtcNow.AddMinutes(1));

        // The same sealed job written twice as two entries: Redis's delivery count sees two first deliveries.
        var jobs = stack.Gateway.Services.GetRequiredService<JobStreams>();
        await jobs.EnqueueAsync(job, _ct);
        await jobs.EnqueueAsync(job, _ct);

        var letters = await WaitForDeadLetterAsync(jobs, "r-replay", _ct);
        Assert.Equal("replayed", letters.Reason);
        var results = await WaitForResultsAsync(stack, replyTo, r => r.Kind == ResultKind.Final, _ct);
        Assert.Single(results, r => r.Kind == ResultKind.Final);
        Assert.DoesNotContain(results, r => r.Kind == ResultKind.Error);
        Assert.Equal(1, quick.Runs);
    }

    [Fact]
    public async Task A_job_whose_deadline_was_moved_does_not_open()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var (_, session) = await stack.StartWorkerAsync(_ct, inference: new QuickInference());
        var replyTo = "gw-deadline-" + Guid.NewGuid().ToString("N")[..8];
        var (job, _) = RawJob.Seal(session.Identity.Sealing.PublicKey, "r-moved", session, replyTo, DateTimeOffset.UtcNow.AddSeconds(30));

        // Someone holding the entry gives it a later deadline, to have it run after the gateway gave up on it.
        var jobs = stack.Gateway.Services.GetRequiredService<JobStreams>();
        await jobs.EnqueueAsync(job with { Deadline = job.Deadline.AddHours(1) }, _ct);

        var letter = await WaitForDeadLetterAsync(jobs, "r-moved", _ct);
        Assert.Equal("undecryptable", letter.Reason);
    }

    [Fact]
    public async Task Reattesting_rotates_the_sealing_key_and_jobs_sealed_to_the_previous_key_run_until_it_is_retired()
    {
        await using var stack = new DispatchNetwork(redis.Server);
        await stack.StartAsync(_ct);
        var quick = new QuickInference();
        var (_, session) = await stack.StartWorkerAsync(_ct, inference: quick);
        var jobs = stack.Gateway.Services.GetRequiredService<JobStreams>();
        var replyTo = "gw-rotate-" + Guid.NewGuid().ToString("N")[..8];
        var firstKey = session.Bundle.Document.HpkePublicKey;

        // A job sealed to the published key, still waiting in a gateway when the worker re-attests.
        var (inFlight, _) = RawJob.Seal(firstKey, "r-old-key", session, replyTo, DateTimeOffset.UtcNow.AddMinutes(1));
        await session.AttestAsync(_ct);
        var secondKey = session.Bundle.Document.HpkePublicKey;
        Assert.NotEqual(firstKey, secondKey);
        Assert.Equal(1, session.Identity.PreviousSealingKeys);

        var (fresh, _) = RawJob.Seal(secondKey, "r-new-key", session, replyTo, DateTimeOffset.UtcNow.AddMinutes(1));
        await jobs.EnqueueAsync(inFlight, _ct);
        await jobs.EnqueueAsync(fresh, _ct);
        var results = await WaitForResultsAsync(stack, replyTo, r => r.Kind == ResultKind.Final, _ct, finals: 2);
        Assert.Contains(results, r => r is { RequestId: "r-old-key", Kind: ResultKind.Final });
        Assert.Contains(results, r => r is { RequestId: "r-new-key", Kind: ResultKind.Final });

        // Once retired (its document expired plus the grace), the previous key is wiped and opens nothing.
        Assert.Equal(1, session.Identity.RetireSealingKeys(DateTimeOffset.UtcNow.AddDays(30)));
        var (late, _) = RawJob.Seal(firstKey, "r-retired-key", session, replyTo, DateTimeOffset.UtcNow.AddMinutes(1));
        await jobs.EnqueueAsync(late, _ct);
        Assert.Equal("undecryptable", (await WaitForDeadLetterAsync(jobs, "r-retired-key", _ct)).Reason);
        Assert.Equal(2, quick.Runs);
    }

    private static async Task<DeadLetter> WaitForDeadLetterAsync(JobStreams jobs, string requestId, CancellationToken cancellationToken)
    {
        while (true)
        {
            if ((await jobs.ReadDeadLettersAsync(100, cancellationToken)).FirstOrDefault(l => l.RequestId == requestId) is { } letter)
            {
                return letter;
            }

            await Task.Delay(20, cancellationToken);
        }
    }

    private static async Task<List<ResultEnvelope>> WaitForResultsAsync(
        DispatchNetwork stack, string replyTo, Func<ResultEnvelope, bool> done, CancellationToken cancellationToken, int finals = 1)
    {
        var results = stack.Gateway.Services.GetRequiredService<ResultStreams>();
        while (true)
        {
            var all = (await results.ReadAsync(replyTo, "0-0", 1000, TimeSpan.FromMilliseconds(20), cancellationToken))
                .Select(e => e.Envelope).OfType<ResultEnvelope>().ToList();
            if (all.Count(done) >= finals)
            {
                return all;
            }
        }
    }

    /// <summary>A job sealed the way a gateway seals one, to a chosen key, reply stream and deadline.</summary>
    private static class RawJob
    {
        public static (JobEnvelope Job, byte[] Enc) Seal(byte[] recipientKey, string requestId, WorkerSession session, string replyTo, DateTimeOffset deadline)
        {
            using var sender = Hpke.SetupSender(recipientKey, JobBinding.Info(requestId, 0, session.WorkerId, session.ModelSha256, deadline));
            var request = new GenerationRequest { Prompt = "hello", Sampling = new SamplingOptions { MaxTokens = 4, Temperature = 0 } };
            var job = new JobEnvelope
            {
                RequestId = requestId,
                Attempt = 0,
                WorkerId = session.WorkerId,
                ModelSha256 = session.ModelSha256,
                ReplyTo = replyTo,
                RecipientKey = recipientKey,
                EncapsulatedKey = sender.Enc,
                Ciphertext = sender.Seal(JobBinding.Aad(replyTo), JsonSerializer.SerializeToUtf8Bytes(request, WireJsonContext.Default.GenerationRequest)),
                IssuedAt = DateTimeOffset.UtcNow,
                Deadline = deadline,
            };
            return (job, sender.Enc);
        }
    }

    /// <summary>Answers "Hi" at once and counts its runs.</summary>
    private sealed class QuickInference : IInferenceService
    {
        private int _runs;

        public ModelInfo Model { get; } = new("quick-test", new string('c', 64), "none", 0, 4096, 4096, HasChatTemplate: false);

        public int MaxConcurrency => 4;

        public int Runs => Volatile.Read(ref _runs);

        public async IAsyncEnumerable<GenerationChunk> GenerateAsync(GenerationRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _runs);
            await Task.Yield();
            yield return new GenerationChunk("Hi");
            yield return new GenerationChunk(string.Empty, new GenerationUsage(1, 1, FinishReason.Stop, TimeSpan.Zero, TimeSpan.Zero));
        }
    }
}
