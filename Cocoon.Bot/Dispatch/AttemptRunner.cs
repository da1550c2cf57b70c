using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Observability;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// What the gateway measured itself on a completed attempt (never the worker's claim): when the job was enqueued, when
/// its first authenticated piece arrived and when the final one did.
/// </summary>
public sealed record AttemptTimings(DateTimeOffset Enqueued, DateTimeOffset FirstPiece, DateTimeOffset Finished)
{
    public TimeSpan TimeToFirstToken => FirstPiece - Enqueued;

    /// <summary>Completion tokens per second after the first piece; an answer that came in one piece has no measurable rate and meets any.</summary>
    public double TokensPerSecond(int completionTokens)
    {
        var seconds = (Finished - FirstPiece).TotalSeconds;
        return completionTokens <= 1 || seconds <= 0 ? double.PositiveInfinity : (completionTokens - 1) / seconds;
    }
}

/// <summary>
/// How one attempt ended: the verified receipt and the gateway's timings, or a reason code (the worker's or ours). A
/// stopped attempt (the caller left after part of the answer) carries the worker's receipt for the part the gateway
/// took, when it came in time.
/// </summary>
public sealed record AttemptOutcome(SignedUsageReceipt? Receipt, string? Failure, AttemptTimings? Timings = null, bool Stopped = false)
{
    public static AttemptOutcome Completed(SignedUsageReceipt receipt, AttemptTimings timings) => new(receipt, null, timings);

    public static AttemptOutcome Failed(string reason) => new(null, reason);

    public static AttemptOutcome StoppedWith(SignedUsageReceipt? receipt) => new(receipt, "cancelled", Stopped: true);

    /// <summary>The answer's token ids as the worker sealed them (null when it sent none): kept in memory for a spot check only.</summary>
    public IReadOnlyList<int>? AnswerTokens { get; init; }

    /// <summary>The UTF-8 bytes of answer text this attempt opened (what bounds its receipt's completion tokens, see ReceiptBounds).</summary>
    public long DeliveredBytes { get; init; }
}

/// <summary>
/// The attempt stream: seal the request to one worker with HPKE, enqueue it once its funds are held, open the
/// sealed answer in order while streaming it through <see cref="Delivery"/>, and accept the signed receipt. Whatever
/// ends the attempt early (the caller left, a deadline, a stall, a broken stream), the worker is told to stop.
/// </summary>
public sealed partial class AttemptRunner(
    JobStreams jobs,
    JobCancellations cancellations,
    WorkerDirectory directory,
    GatewayIdentity gateway,
    GatewayMetrics metrics,
    IOptions<DispatchOptions> options,
    TimeProvider time,
    ILogger<AttemptRunner> logger)
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    /// <summary>One attempt inside its own span; the worker's span joins it through the envelope's traceparent.</summary>
    public async Task<AttemptOutcome> RunAsync(
        DispatchRequest request, EligibleWorker worker, int attempt, Task? funds, ChannelReader<ResultEnvelope> results, Delivery delivery,
        DateTimeOffset gatewayStart, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        using var span = CocoonTracing.Gateway.StartActivity("cocoon.attempt");
        span?.SetTag("cocoon.worker_id", worker.Document.WorkerId);
        span?.SetTag("cocoon.attempt", attempt);
        var outcome = await RunCoreAsync(request, worker, attempt, funds, results, delivery, gatewayStart, deadline, span, cancellationToken).ConfigureAwait(false);
        span?.SetTag("cocoon.outcome", outcome.Failure ?? "completed");
        if (outcome.Failure is { } failure)
        {
            span?.SetStatus(ActivityStatusCode.Error, failure);
        }

        return outcome;
    }

    /// <summary>
    /// Seals the request to one worker for one attempt (HPKE, bound to its id, attempt, worker, model and deadline) and
    /// builds the job envelope; nothing is sent. After text was delivered the attempt resumes from it: its worker
    /// pre-fills prompt + that text, sealed like the prompt (never in Redis or a log in plaintext), and writes only the rest.
    /// </summary>
    private SealedJob Seal(DispatchRequest request, EligibleWorker worker, int attempt, Delivery delivery, DateTimeOffset deadline)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(delivery);
        var doc = worker.Document;
        var sender = Hpke.SetupSender(doc.HpkePublicKey, JobBinding.Info(request.RequestId, attempt, doc.WorkerId, doc.ModelSha256, deadline));
        try
        {
            var continuation = delivery.BeginAttempt();
            var plaintext = request.Embedding is { } embedding
                ? JsonSerializer.SerializeToUtf8Bytes(embedding, WireJsonContext.Default.EmbeddingRequest)
                : ReceiptHashes.CanonicalRequest(continuation is null ? request.Generation : request.Generation with { Continuation = continuation });
            // The receipt's request hash: the plaintext exactly as sealed (chat and embeddings alike).
            var requestSha256 = ReceiptHashes.Request(plaintext);
            byte[] ciphertext;
            try
            {
                ciphertext = sender.Seal(JobBinding.Aad(gateway.Id), plaintext);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }

            var envelope = new JobEnvelope
            {
                RequestId = request.RequestId,
                Attempt = attempt,
                WorkerId = doc.WorkerId,
                ModelSha256 = doc.ModelSha256,
                ReplyTo = gateway.Id,
                RecipientKey = doc.HpkePublicKey,
                EncapsulatedKey = sender.Enc,
                Ciphertext = ciphertext,
                IssuedAt = time.GetUtcNow(),
                Deadline = deadline,
                TraceParent = CocoonTracing.CurrentTraceParent(),
            };
            return new SealedJob(sender, envelope, requestSha256, continuation);
        }
        catch
        {
            sender.Dispose();
            throw;
        }
    }

    private async Task<AttemptOutcome> RunCoreAsync(
        DispatchRequest request, EligibleWorker worker, int attempt, Task? funds, ChannelReader<ResultEnvelope> results, Delivery delivery,
        DateTimeOffset gatewayStart, DateTimeOffset deadline, Activity? span, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(results);
        ArgumentNullException.ThrowIfNull(delivery);
        var doc = worker.Document;
        using var job = Seal(request, worker, attempt, delivery, deadline);
        StageMarks.Mark(span, "sealed");
        var (opener, control, requestSha256, continuation) = (job.Opener, job.Control, job.RequestSha256, job.Continuation);
        using var response = new ResponseHasher();
        var envelope = job.Envelope;
        if (funds is not null)
        {
            // No job leaves the gateway before its funds are held (an error here ends the request, not the attempt).
            await funds.ConfigureAwait(false);
            StageMarks.Mark(span, "held");
        }

        try
        {
            await jobs.EnqueueAsync(envelope, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Unknown whether the XADD landed: never retry the same sealed job (a second run would reuse its stream
            // key); the next attempt re-seals. A landed copy answers to an attempt nobody listens to any more.
            return AttemptOutcome.Failed("enqueue-failed");
        }

        StageMarks.Mark(span, "enqueued");
        metrics.Enqueued();
        var enqueuedAt = time.GetUtcNow();
        DateTimeOffset? firstPieceAt = null;
        long deliveredBytes = 0;
        var queued = true;
        // Until the worker says it is done (its final chunk or a refusal), leaving this attempt for any reason (the
        // caller went away, a deadline, a stall, a broken stream) tells the worker to stop and free its slot.
        var workerDone = false;
        var lastProgress = time.GetUtcNow();
        if (continuation is not null)
        {
            metrics.Resumed();
        }

        try
        {
            while (true)
            {
                while (results.TryRead(out var result))
                {
                    if (result.Attempt != attempt || result.WorkerId != doc.WorkerId)
                    {
                        continue; // a late entry of an earlier attempt: harmless, dropped
                    }

                    if (opener.NextSequence == 0)
                    {
                        StageMarks.Mark(span, "dequeued");
                    }

                    // Anyone who can write to Redis can add entries to this stream: only what authenticates under
                    // this job's keys may end the attempt or count as progress; the rest is dropped and counted.
                    if (result.Kind == ResultKind.Error)
                    {
                        if (!control.VerifyError(request.RequestId, attempt, doc.WorkerId, result.Error, result.Mac))
                        {
                            metrics.Refused("error-unauthenticated");
                            continue;
                        }

                        workerDone = true;
                        return AttemptOutcome.Failed(result.Error is { Length: > 0 and <= 64 } reason ? reason : "worker-error");
                    }

                    if (result.Sequence < opener.NextSequence)
                    {
                        metrics.Refused("chunk-replayed");
                        continue; // a duplicate of an entry already opened: the request id + attempt + sequence dedupe it
                    }

                    var chunk = new SealedChunk(result.Sequence, result.Kind == ResultKind.Final, result.Ciphertext ?? []);
                    if (!opener.Authenticates(chunk))
                    {
                        metrics.Refused("chunk-tampered");
                        continue; // not sealed by the worker at this position: a forgery or an altered copy
                    }

                    lastProgress = time.GetUtcNow();
                    if (result.Sequence > opener.NextSequence)
                    {
                        // The worker's own chunk, ahead of its turn: one in between was lost (deleted from the stream).
                        return AttemptOutcome.Failed("chunk-out-of-order");
                    }

                    byte[] piece;
                    try
                    {
                        piece = opener.Open(chunk);
                    }
                    catch (ChunkStreamException)
                    {
                        return AttemptOutcome.Failed("chunk-tampered");
                    }

                    response.Append(piece);
                    deliveredBytes += piece.Length;
                    if (queued)
                    {
                        queued = false;
                        metrics.Dequeued();
                    }

                    if (firstPieceAt is null && piece.Length > 0)
                    {
                        firstPieceAt = lastProgress;
                    }

                    var firstBefore = delivery.Delivered == 0;
                    await delivery.OfferAsync(Encoding.UTF8.GetString(piece), cancellationToken).ConfigureAwait(false);

                    if (firstBefore && delivery.Delivered > 0)
                    {
                        StageMarks.Mark(span, "delivered");
                        metrics.FirstToken(time.GetUtcNow() - gatewayStart);
                    }

                    if (result.Kind == ResultKind.Final)
                    {
                        workerDone = true;

                        var content = new ReceiptContent(requestSha256, response.Current(), Stopped: false);
                        return SignedUsageReceipt.Accept(result.Receipt, doc, request.RequestId, opener.TranscriptHash, request.MaxCompletionTokens, content) is { } receipt
                            ? AttemptOutcome.Completed(receipt, new AttemptTimings(enqueuedAt, firstPieceAt ?? lastProgress, lastProgress)) with
                            {
                                AnswerTokens = AnswerTokenSeal.Open(job.Sender, request.RequestId, result.AnswerTokens),
                                DeliveredBytes = deliveredBytes,
                            }
                            : AttemptOutcome.Failed("receipt-invalid");
                    }
                }

                var now = time.GetUtcNow();
                if (now >= deadline)
                {
                    throw new TimeoutException($"Request {request.RequestId} was not answered within {request.Timeout}.");
                }

                if (!directory.IsRegistered(doc.WorkerId))
                {
                    return AttemptOutcome.Failed("worker-lost");
                }

                if (now - lastProgress > options.Value.StallTimeout)
                {
                    return AttemptOutcome.Failed("stalled");
                }

                using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                tick.CancelAfter(Tick);
                try
                {
                    if (!await results.WaitToReadAsync(tick.Token).ConfigureAwait(false))
                    {
                        throw new InvalidOperationException("The result router stopped.");
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !workerDone && opener.NextSequence > 0)
        {
            // The caller stopped the answer after taking part of it: the worker signs a receipt for exactly the chunks
            // opened here, so the provider is paid for the tokens the caller got and the caller for no more.
            workerDone = true;
            var taken = opener.NextSequence;
            cancellations.Cancel(doc.WorkerId, request.RequestId, attempt, control.Stop(request.RequestId, attempt, doc.WorkerId, taken), taken);
            LogCancelSent(logger, request.RequestId, doc.WorkerId, attempt);
            var content = new ReceiptContent(requestSha256, response.Current(), Stopped: true);
            return AttemptOutcome.StoppedWith(await StoppedReceiptAsync(request, doc, attempt, results, control, opener.TranscriptHashSoFar(), content).ConfigureAwait(false)) with
            {
                DeliveredBytes = deliveredBytes,
            };
        }
        finally
        {
            if (queued)
            {
                metrics.Dequeued();
            }

            if (!workerDone)
            {
                cancellations.Cancel(doc.WorkerId, request.RequestId, attempt, control.Cancel(request.RequestId, attempt, doc.WorkerId));
                LogCancelSent(logger, request.RequestId, doc.WorkerId, attempt);
            }
        }
    }

    /// <summary>
    /// Waits (at most <see cref="DispatchOptions.StoppedReceiptWait"/>, whatever the caller does) for the worker's
    /// authenticated refusal of a stopped attempt; chunks it sealed after the ones taken are skipped. Null when no
    /// acceptable receipt came: then nothing is billed, as before receipts for stopped answers existed.
    /// </summary>
    private async Task<SignedUsageReceipt?> StoppedReceiptAsync(
        DispatchRequest request, AttestationDocument doc, int attempt, ChannelReader<ResultEnvelope> results, JobControlKey control, byte[] transcriptHash,
        ReceiptContent content)
    {
        using var wait = new CancellationTokenSource(options.Value.StoppedReceiptWait, time);
        try
        {
            while (await results.WaitToReadAsync(wait.Token).ConfigureAwait(false))
            {
                while (results.TryRead(out var result))
                {
                    if (result.Attempt != attempt || result.WorkerId != doc.WorkerId)
                    {
                        continue;
                    }

                    if (result.Kind == ResultKind.Final)
                    {
                        // The worker finished before it saw the stop: its receipt covers more than was taken.
                        LogNoStoppedReceipt(logger, request.RequestId, doc.WorkerId, attempt);
                        return null;
                    }

                    if (result.Kind == ResultKind.Error && control.VerifyError(request.RequestId, attempt, doc.WorkerId, result.Error, result.Mac))
                    {
                        return SignedUsageReceipt.Accept(result.Receipt, doc, request.RequestId, transcriptHash, request.MaxCompletionTokens, content);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The worker did not answer in time.
        }

        LogNoStoppedReceipt(logger, request.RequestId, doc.WorkerId, attempt);
        return null;
    }

    [LoggerMessage(EventId = LogEvents.Attempts + 2, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt} was stopped but {WorkerId} sent no valid receipt for the part taken: not billed")]
    private static partial void LogNoStoppedReceipt(ILogger logger, string requestId, string workerId, int attempt);

    [LoggerMessage(EventId = LogEvents.Attempts + 1, Level = LogLevel.Debug, Message = "Request {RequestId} attempt {Attempt} left before {WorkerId} finished it: cancel sent")]
    private static partial void LogCancelSent(ILogger logger, string requestId, string workerId, int attempt);
}

/// <summary>
/// A job sealed to one worker for one attempt and not sent yet: its HPKE context (which opens the answer and keys the
/// job's control MACs) and the envelope. The attempt that sends it disposes it.
/// </summary>
internal sealed class SealedJob : IDisposable
{
    private readonly HpkeSenderContext _sender;

    internal SealedJob(HpkeSenderContext sender, JobEnvelope envelope, byte[] requestSha256, string? continuation)
    {
        _sender = sender;
        Envelope = envelope;
        RequestSha256 = requestSha256;
        Continuation = continuation;
        Opener = ChunkOpener.Create(sender, envelope.RequestId);
        Control = JobControlKey.Create(sender);
    }

    internal JobEnvelope Envelope { get; }

    internal HpkeSenderContext Sender => _sender;

    internal ChunkOpener Opener { get; }

    internal JobControlKey Control { get; }

    internal byte[] RequestSha256 { get; }

    internal string? Continuation { get; }

    public void Dispose()
    {
        Control.Dispose();
        Opener.Dispose();
        _sender.Dispose();
    }
}
