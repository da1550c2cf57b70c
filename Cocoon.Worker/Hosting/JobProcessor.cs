using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Observability;
using Cocoon.Network.Transport;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Polly;
using Polly.Registry;
using StackExchange.Redis;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// Runs one job entry: open the sealed request, generate, stream sealed chunks and a signed receipt to the gateway's
/// result stream, and only then acknowledge the entry. Garbage and jobs this worker cannot open go to the dead-letter
/// stream; in every refusal the gateway is told (with a reason code, never text, and a MAC from the job's HPKE context
/// once the worker could open it) so it can re-dispatch at once. A replayed job (an encapsulated key already opened)
/// is moved aside without a word to the gateway: its refusal would end the genuine attempt it copies.
/// </summary>
public sealed partial class JobProcessor(
    IInferenceService inference,
    JobStreams jobs,
    ResultStreams results,
    IOptions<WorkerHostOptions> options,
    TimeProvider time,
    [FromKeyedServices(JobProcessor.DeadlineClock)] TimeProvider deadlines,
    ResiliencePipelineProvider<string> pipelines,
    ILogger<JobProcessor> logger)
{
    /// <summary>
    /// The clock that starts and fires a running job's own deadline (the host's TimeProvider unless a test registers
    /// its own under this key): with it held still, only the gateway's cancel can stop a job, so tests can tell the
    /// two apart.
    /// </summary>
    public const string DeadlineClock = "cocoon-job-deadlines";

    private readonly ResiliencePipeline _redisRetry = pipelines.GetPipeline(RedisResilience.Pipeline);

    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string RequestId, int Attempt), RunningJob> _running = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string RequestId, int Attempt), EarlyCancel> _cancelledEarly = new();

    // How many chunks the gateway took before it stopped a running job (from an authenticated stop only): the worker
    // signs a receipt for exactly those.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<(string RequestId, int Attempt), long> _stoppedAt = new();
    private readonly ReplayGuard _replays = new(options.Value.ReplayCacheSize, time);
    private const int MaxRememberedCancels = 10_000;
    private const int MaxCancelsPerJob = 4;
    private long _jobsDone;
    private double _averageMs;

    /// <summary>A job being generated: how to stop it, and the key its cancel must be authenticated with.</summary>
    private sealed record RunningJob(CancellationTokenSource Stop, JobControlKey Control, string WorkerId);

    /// <summary>Cancels for a job not started yet: checked once the job is opened (its control key exists only then).</summary>
    private sealed record EarlyCancel(DateTimeOffset At, byte[][] Macs);

    /// <summary>Jobs this worker has opened and still remembers (tests watch it).</summary>
    public int RememberedJobKeys => _replays.Count;

    /// <summary>
    /// The gateway no longer wants this job: stop its generation (it is then acknowledged as "cancelled"). Only a
    /// cancel whose MAC verifies under the job's control key counts; anything else is ignored. When the gateway says
    /// how many chunks it took (<paramref name="chunksTaken"/>, covered by the MAC), the refusal carries a receipt
    /// signed for exactly those, so the provider is paid for what the caller got. A job not running yet has sent no
    /// chunk: such a stop is an ordinary cancel.
    /// </summary>
    public void Cancel(string requestId, int attempt, byte[] mac, long? chunksTaken = null)
    {
        ArgumentNullException.ThrowIfNull(mac);
        if (chunksTaken is { } taken && _running.TryGetValue((requestId, attempt), out var stopped))
        {
            if (!stopped.Control.VerifyStop(requestId, attempt, stopped.WorkerId, taken, mac))
            {
                WorkerLog.CancelUnauthenticated(logger, requestId, attempt);
                return;
            }

            _stoppedAt[(requestId, attempt)] = taken;
            CancelRunning(stopped.Stop);
            return;
        }

        if (!_running.TryGetValue((requestId, attempt), out var job))
        {
            // Not started yet (still queued) or already over: remember it a while, so a queued job is not run.
            if (_cancelledEarly.Count >= MaxRememberedCancels)
            {
                var cutoff = time.GetUtcNow() - TimeSpan.FromMinutes(10);
                foreach (var old in _cancelledEarly.Where(c => c.Value.At < cutoff).Select(c => c.Key).ToList())
                {
                    _cancelledEarly.TryRemove(old, out _);
                }
            }

            if (_cancelledEarly.Count < MaxRememberedCancels)
            {
                // Not verifiable yet, so a forged cancel must not push out the genuine one: keep a few per job.
                _cancelledEarly.AddOrUpdate((requestId, attempt), _ => new EarlyCancel(time.GetUtcNow(), [mac]),
                    (_, e) => e.Macs.Length >= MaxCancelsPerJob ? e : e with { Macs = [.. e.Macs, mac] });
            }

            // The job may have started between the look-up above and the note: each side writes its own map, then
            // reads the other's (RunAsync registers, then looks here), so one of them always sees the other. The
            // barrier keeps the read from moving ahead of the write.
            Interlocked.MemoryBarrier();
            if (!_running.TryGetValue((requestId, attempt), out job) || !_cancelledEarly.TryRemove((requestId, attempt), out var early)
                || !Verified(job, requestId, attempt, early.Macs))
            {
                return;
            }
        }
        else if (!Verified(job, requestId, attempt, [mac]))
        {
            WorkerLog.CancelUnauthenticated(logger, requestId, attempt);
            return;
        }

        CancelRunning(job.Stop);
    }

    private static bool Verified(RunningJob job, string requestId, int attempt, byte[][] macs) =>
        macs.Any(m => job.Control.VerifyCancel(requestId, attempt, job.WorkerId, m));

    private static void CancelRunning(CancellationTokenSource job)
    {
        try
        {
            job.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // It just finished.
        }
    }

    public long JobsDone => Interlocked.Read(ref _jobsDone);

    public double AverageJobMilliseconds => Volatile.Read(ref _averageMs);

    public async Task ProcessAsync(WorkerSession session, JobEntry entry, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(entry);
        var job = Parse(entry.Payload);
        if (job is null)
        {
            await DeadLetterAsync(session, entry, "malformed", null, cancellationToken).ConfigureAwait(false);
            return;
        }

        // The job's span joins the gateway's attempt span (the envelope carries its traceparent), so one request is
        // one trace across both processes. Ids and the outcome only: the prompt is still sealed here.
        using var span = CocoonTracing.Worker.StartActivity("cocoon.job", ActivityKind.Consumer, CocoonTracing.ParentOf(job.TraceParent));
        span?.SetTag("cocoon.request_id", job.RequestId);
        span?.SetTag("cocoon.attempt", job.Attempt);
        span?.SetTag("cocoon.worker_id", session.WorkerId);
        StageMarks.Mark(span, "read", entry.ReadAt);

        if (job.WorkerId != session.WorkerId || !string.Equals(job.ModelSha256, session.ModelSha256, StringComparison.OrdinalIgnoreCase))
        {
            await RefuseAsync(session, entry, job, "wrong-worker", deadLetter: true, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (_replays.Seen(job.EncapsulatedKey))
        {
            // Checked before anything is said to the gateway: an authenticated refusal of a copy would end the
            // genuine attempt. (Only an enc that opened a job is ever recorded, so a forgery cannot block a job.)
            await DropReplayAsync(session, entry, job, cancellationToken).ConfigureAwait(false);
            return;
        }

        HpkeRecipientContext context;
        GenerationRequest? request = null;
        byte[] requestSha256;
        try
        {
            var key = session.Identity.FindSealing(job.RecipientKey)
                ?? throw new CryptographicException("The job is sealed to a key this worker does not hold (any more).");
            context = Hpke.SetupRecipient(key, job.EncapsulatedKey,
                JobBinding.Info(job.RequestId, job.Attempt, job.WorkerId, job.ModelSha256, job.Deadline));
        }
        catch (Exception e) when (e is CryptographicException or ObjectDisposedException)
        {
            // No context, so no MAC: the gateway cannot tell this refusal from a forgery and ignores it.
            await RefuseAsync(session, entry, job, CannotOpen(entry), deadLetter: true, null, cancellationToken).ConfigureAwait(false);
            return;
        }

        using (context)
        using (var control = JobControlKey.Create(context))
        {
            byte[] plaintext;
            try
            {
                plaintext = context.Open(JobBinding.Aad(job.ReplyTo), job.Ciphertext);
            }
            catch (CryptographicException)
            {
                await RefuseAsync(session, entry, job, CannotOpen(entry), deadLetter: true, control, cancellationToken).ConfigureAwait(false);
                return;
            }

            // What the receipt's request hash covers, for chat and embeddings alike: the plaintext exactly as sealed.
            requestSha256 = ReceiptHashes.Request(plaintext);
            StageMarks.Mark(span, "opened");

            // An embedding worker's jobs are embedding requests (the model hash the job is bound to says so); they pass
            // the same replay, redelivery, cancel and deadline checks below before EmbedAsync reads them.
            var embedder = inference as Embeddings.IEmbeddingService;
            if (embedder is null)
            {
                try
                {
                    request = JsonSerializer.Deserialize(plaintext, WireJsonContext.Default.GenerationRequest);
                }
                catch (JsonException)
                {
                    request = null;
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                }
            }

            try
            {

                // From here the job is authenticated (its deadline too): remember its enc so no copy ever runs again.
                switch (_replays.TryRecord(job.EncapsulatedKey, job.Deadline))
                {
                    case ReplayGuard.Outcome.Replayed:
                        await DropReplayAsync(session, entry, job, cancellationToken).ConfigureAwait(false);
                        return;
                    case ReplayGuard.Outcome.Full:
                        await RefuseAsync(session, entry, job, "replay-cache-full", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
                        return;
                }

                if (entry.Deliveries > 1)
                {
                    // Never run a job twice: a second run would seal different text under the same stream key and nonces.
                    // The gateway re-seals to a fresh HPKE context instead; past MaxDeliveries the entry is poison.
                    await RefuseAsync(session, entry, job, entry.Deliveries > options.Value.MaxDeliveries ? "repeatedly-failing" : "redelivered",
                        deadLetter: entry.Deliveries > options.Value.MaxDeliveries, control, cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (_cancelledEarly.TryRemove((job.RequestId, job.Attempt), out var early)
                    && early.Macs.Any(m => control.VerifyCancel(job.RequestId, job.Attempt, session.WorkerId, m)))
                {
                    await RefuseAsync(session, entry, job, "cancelled", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (deadlines.GetUtcNow() >= job.Deadline)
                {
                    await RefuseAsync(session, entry, job, "expired", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
                    return;
                }

                if (embedder is not null)
                {
                    await EmbedAsync(session, entry, job, context, plaintext, requestSha256, embedder, control, cancellationToken).ConfigureAwait(false);
                    return;
            }
            }
            finally
            {
                if (embedder is not null)
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                }
            }

            if (request is null)
            {
                await RefuseAsync(session, entry, job, "invalid-request", deadLetter: true, control, cancellationToken).ConfigureAwait(false);
                return;
            }

            if (GenerationRules.Check(request) is not null)
            {
                // The protocol's limits, as the gateway applies them; the rule's message may not travel (only codes do).
                await RefuseAsync(session, entry, job, "invalid-request", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
                return;
            }

            using var sealer = ChunkSealer.Create(context, job.RequestId);
            if (request.Score is not null)
            {
                await ScoreJobAsync(session, entry, job, request, requestSha256, sealer, control, cancellationToken).ConfigureAwait(false);
                return;
            }

            await RunAsync(session, entry, job, request, requestSha256, sealer, control, context, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RunAsync(
        WorkerSession session, JobEntry entry, JobEnvelope job, GenerationRequest request, byte[] requestSha256, ChunkSealer sealer, JobControlKey control,
        HpkeContext context, CancellationToken cancellationToken)
    {
        using var response = new ResponseHasher();
        // After each sealed chunk: the hashes and the token counts a receipt for the answer up to there would carry.
        var soFar = new List<PartialAnswer>();
        var started = time.GetUtcNow();
        var stopwatch = Stopwatch.StartNew();
        using var run = StartRun(session, job, control, cancellationToken);
        var (key, cancelled, stop) = (run.Key, run.Cancelled, run.Stop);
        GenerationUsage? usage = null;
        StageMarks.Mark(StageMarks.Current(CocoonTracing.Worker), "generating");
        try
        {
            await foreach (var chunk in inference.GenerateAsync(request, stop).ConfigureAwait(false))
            {
                if (chunk.IsFinal)
                {
                    usage = chunk.Usage;
                    var lastText = Encoding.UTF8.GetBytes(chunk.Text);
                    response.Append(lastText);
                    var last = sealer.Seal(lastText, isFinal: true);
                    var receipt = Receipt(session, job, started, requestSha256, usage!.PromptTokens, usage.CachedTokens, usage.CompletionTokens,
                        usage.FinishReason, sealer.TranscriptHash, response.Current());
                    // The result (last chunk + receipt) and the acknowledgement go in one transaction: the entry leaves
                    // the pending list exactly when its result is durable.
                    var final = Result(job, session, ResultKind.Final, last.Sequence, last.Ciphertext) with
                    {
                        Receipt = Encoding.UTF8.GetBytes(receipt.ToJson()),
                        // Every answer's token ids, sealed: a spot check scores exactly these (see AnswerTokenSeal).
                        AnswerTokens = usage.AnswerTokens is { } drawn ? AnswerTokenSeal.Seal(context, job.RequestId, drawn) : null,
                    };
                    await RetryAsync(job, ct => results.AppendAndAcknowledgeAsync(job.ReplyTo, final, session.WorkerId, entry.EntryId, ct), cancellationToken).ConfigureAwait(false);
                    Activity.Current?.SetTag("cocoon.outcome", "completed");
                    Activity.Current?.SetTag("cocoon.completion_tokens", usage.CompletionTokens);
                    break;
                }

                if (chunk.Text.Length > 0)
                {
                    var text = Encoding.UTF8.GetBytes(chunk.Text);
                    response.Append(text);
                    var sealedChunk = sealer.Seal(text, isFinal: false);
                    soFar.Add(new PartialAnswer(sealer.TranscriptHashSoFar(), response.Current(), chunk.PromptTokens, chunk.CachedTokens, chunk.CompletionTokens));
                    var span = sealedChunk.Sequence == 0 ? StageMarks.Current(CocoonTracing.Worker) : null;
                    StageMarks.Mark(span, "chunk-sealed");
                    await AppendAsync(job, Result(job, session, ResultKind.Chunk, sealedChunk.Sequence, sealedChunk.Ciphertext), cancellationToken).ConfigureAwait(false);
                    StageMarks.Mark(span, "chunk-appended");
                }
            }
        }
        catch (Exception e) when (Refusal(e, cancelled, cancellationToken) is { } reason)
        {
            // A stop after the gateway took some chunks carries the receipt for exactly those (hashes and tokens as
            // they stood after the last one taken).
            byte[]? stoppedReceipt = null;
            if (reason == "cancelled" && _stoppedAt.TryRemove(key, out var taken) && taken >= 1 && taken <= soFar.Count)
            {
                var part = soFar[(int)taken - 1];
                stoppedReceipt = Encoding.UTF8.GetBytes(Receipt(session, job, started, requestSha256, part.PromptTokens, part.CachedTokens,
                    part.CompletionTokens, FinishReason.Cancelled, part.Transcript, part.Response).ToJson());
            }

            await RefuseAfterFailureAsync(session, entry, job, e, reason, control, cancellationToken, stoppedReceipt).ConfigureAwait(false);
            return;
        }
        finally
        {
            _running.TryRemove(key, out _);
            _stoppedAt.TryRemove(key, out _);
        }

        if (usage is null)
        {
            await RefuseAsync(session, entry, job, "worker-failed", deadLetter: false, control, cancellationToken).ConfigureAwait(false);
            return;
        }

        var elapsed = stopwatch.Elapsed.TotalMilliseconds;
        var done = Interlocked.Increment(ref _jobsDone);
        // An exponential average answers "how long does a job take here now" better than the all-time mean.
        Volatile.Write(ref _averageMs, done == 1 ? elapsed : (0.8 * Volatile.Read(ref _averageMs)) + (0.2 * elapsed));
        WorkerLog.JobDone(logger, job.RequestId, job.Attempt, usage.PromptTokens, usage.CompletionTokens, usage.FinishReason.ToString(), elapsed);
    }

    /// <summary>
    /// Registers a job as running, with its deadline and the gateway's cancel linked into one stop token, and applies a
    /// cancel that came after the queued-job check in ProcessAsync but before the registration (see Cancel).
    /// </summary>
    private JobRun StartRun(WorkerSession session, JobEnvelope job, JobControlKey control, CancellationToken cancellationToken)
    {
        var run = new JobRun((job.RequestId, job.Attempt), job.Deadline - deadlines.GetUtcNow(), deadlines, cancellationToken);
        var running = new RunningJob(run.Cancelled, control, session.WorkerId);
        _running[run.Key] = running;
        Interlocked.MemoryBarrier();
        if (_cancelledEarly.TryRemove(run.Key, out var early) && Verified(running, job.RequestId, job.Attempt, early.Macs))
        {
            CancelRunning(run.Cancelled);
        }

        return run;
    }

    /// <summary>The token sources of one running job: its deadline, the gateway's cancel, and both linked.</summary>
    private sealed class JobRun : IDisposable
    {
        private readonly CancellationTokenSource _deadline;
        private readonly CancellationTokenSource _stop;

        public JobRun((string RequestId, int Attempt) key, TimeSpan timeLeft, TimeProvider clock, CancellationToken hostStopping)
        {
            Key = key;
            _deadline = new CancellationTokenSource(timeLeft > TimeSpan.Zero ? timeLeft : TimeSpan.Zero, clock);
            _stop = CancellationTokenSource.CreateLinkedTokenSource(hostStopping, _deadline.Token, Cancelled.Token);
        }

        public (string RequestId, int Attempt) Key { get; }

        public CancellationTokenSource Cancelled { get; } = new();

        public CancellationToken Stop => _stop.Token;

        public void Dispose()
        {
            _stop.Dispose();
            Cancelled.Dispose();
            _deadline.Dispose();
        }
    }

    /// <summary>
    /// What a job that threw tells its gateway, or null to let the exception go (the host is stopping, or Redis or the
    /// result stream failed: the entry stays pending and is redelivered). Only codes and numbers travel: an exception's
    /// text may quote the request.
    /// </summary>
    private static string? Refusal(Exception e, CancellationTokenSource cancelledByGateway, CancellationToken hostStopping) => e switch
    {
        ContextExceededException tooLong => tooLong.ReasonCode,
        InputTooLongException tooLong => tooLong.ReasonCode,
        ArgumentException => "invalid-request",
        OperationCanceledException when !hostStopping.IsCancellationRequested => cancelledByGateway.IsCancellationRequested ? "cancelled" : "expired",
        OperationCanceledException or RedisException or ResultUndeliverableException => null,
        _ => "worker-failed",
    };

    /// <summary>Hashes and token counts after one sealed chunk: what a receipt for the answer up to there carries.</summary>
    private sealed record PartialAnswer(byte[] Transcript, byte[] Response, int PromptTokens, int CachedTokens, int CompletionTokens);

    /// <summary>The signed receipt v2 of one job (the full answer, or the part a stopped job's gateway took).</summary>
    private SignedUsageReceipt Receipt(
        WorkerSession session, JobEnvelope job, DateTimeOffset started, byte[] requestSha256, int promptTokens, int cachedTokens, int completionTokens,
        FinishReason finish, byte[] transcript, byte[] responseSha256) => new UsageReceipt
        {
            RequestId = job.RequestId,
            WorkerId = session.WorkerId,
            ModelSha256 = session.ModelSha256,
            PromptTokens = promptTokens,
            CompletionTokens = completionTokens,
            CachedPromptTokens = cachedTokens,
            FinishReason = finish,
            ChunksSha256 = transcript,
            WorkerStartedAt = started,
            WorkerFinishedAt = time.GetUtcNow(),
            RequestSha256 = requestSha256,
            ResponseSha256 = responseSha256,
            PriceCoefficient = session.Bundle.Document.PriceCoefficient,
            TeeKind = session.Bundle.Document.TeeKind,
        }.Sign(session.Identity);

    private async Task RefuseAfterFailureAsync(
        WorkerSession session, JobEntry entry, JobEnvelope job, Exception e, string reason, JobControlKey control, CancellationToken cancellationToken,
        byte[]? receipt = null)
    {
        if (reason == "worker-failed")
        {
            WorkerLog.JobFailed(logger, job.RequestId, job.Attempt, e);
        }

        // Acknowledged either way: a job the gateway gave up on, or one that cannot run, is never run again.
        await RefuseAsync(session, entry, job, reason, deadLetter: false, control, cancellationToken, receipt).ConfigureAwait(false);
    }

    private async Task RefuseAsync(
        WorkerSession session, JobEntry entry, JobEnvelope job, string reason, bool deadLetter, JobControlKey? control, CancellationToken cancellationToken,
        byte[]? receipt = null)
    {
        WorkerLog.JobRefused(logger, job.RequestId, job.Attempt, reason);
        Activity.Current?.SetTag("cocoon.outcome", reason);
        var refusal = Result(job, session, ResultKind.Error, 0, null) with
        {
            Error = reason,
            Mac = control?.Error(job.RequestId, job.Attempt, session.WorkerId, reason),
            Receipt = receipt,
        };
        if (deadLetter)
        {
            await AppendAsync(job, refusal, cancellationToken).ConfigureAwait(false);
            await DeadLetterAsync(session, entry, reason, job.RequestId, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await RetryAsync(job, ct => results.AppendAndAcknowledgeAsync(job.ReplyTo, refusal, session.WorkerId, entry.EntryId, ct), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Why a job that does not open is moved aside: poison once it has come back too often.</summary>
    private string CannotOpen(JobEntry entry) => entry.Deliveries > options.Value.MaxDeliveries ? "repeatedly-failing" : "undecryptable";

    private Task DropReplayAsync(WorkerSession session, JobEntry entry, JobEnvelope job, CancellationToken cancellationToken)
    {
        WorkerLog.ReplayDropped(logger, job.RequestId, job.Attempt, entry.EntryId);
        return DeadLetterAsync(session, entry, "replayed", job.RequestId, cancellationToken);
    }

    private async Task DeadLetterAsync(WorkerSession session, JobEntry entry, string reason, string? requestId, CancellationToken cancellationToken)
    {
        WorkerLog.DeadLettered(logger, entry.EntryId, requestId, reason);
        Activity.Current?.SetTag("cocoon.outcome", reason);
        await jobs.DeadLetterAsync(session.WorkerId, entry, reason, requestId, cancellationToken).ConfigureAwait(false);
    }

    private Task AppendAsync(JobEnvelope job, ResultEnvelope result, CancellationToken cancellationToken) =>
        RetryAsync(job, ct => results.AppendAsync(job.ReplyTo, result, ct), cancellationToken);

    /// <summary>
    /// Redis may be restarting: keep trying until the gateway's deadline for this attempt. Past it the gateway has
    /// moved on; the entry stays pending and a later reclaim drops it as expired.
    /// </summary>
    private async Task RetryAsync(JobEnvelope job, Func<CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        try
        {
            await _redisRetry.ExecuteAsync(action, (e, delay) => WorkerLog.RedisFailed(logger, job.WorkerId, delay.TotalMilliseconds, e), cancellationToken, job.Deadline).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            // The pipeline gave up because the deadline passed.
            WorkerLog.ResultUndeliverable(logger, job.RequestId, job.Attempt);
            throw new ResultUndeliverableException(job.RequestId, e);
        }
    }

    private static ResultEnvelope Result(JobEnvelope job, WorkerSession session, ResultKind kind, long sequence, byte[]? ciphertext) => new()
    {
        RequestId = job.RequestId,
        Attempt = job.Attempt,
        WorkerId = session.WorkerId,
        Kind = kind,
        Sequence = sequence,
        Ciphertext = ciphertext,
    };

    private static JobEnvelope? Parse(byte[]? payload)
    {
        if (payload is null)
        {
            return null;
        }

        try
        {
            var job = JsonSerializer.Deserialize(payload, WireJsonContext.Default.JobEnvelope);
            return job is { Version: WireVersion.Current, RequestId.Length: > 0, ReplyTo.Length: > 0, RecipientKey: not null, EncapsulatedKey: not null, Ciphertext: not null } ? job : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

}

/// <summary>The result of a job could not be written before its deadline (Redis unreachable); the job stays pending.</summary>
public sealed class ResultUndeliverableException(string requestId, Exception innerException)
    : Exception($"The result of request {requestId} could not be written before its deadline.", innerException);
