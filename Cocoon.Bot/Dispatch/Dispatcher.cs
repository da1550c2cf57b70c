using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Cocoon.Bot.Billing;
using Cocoon.Bot.Reputation;
using Cocoon.Bot.Receipts;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Observability;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// The gateway's side of private dispatch, and its re-dispatch: claim a worker (<see cref="WorkerChoice"/>), hold the
/// worst case (<see cref="JobBilling"/>), run the attempt (<see cref="AttemptRunner"/>), settle from the verified
/// receipt. A worker that dies, stalls or sends a broken stream is replaced by the next one (a fresh HPKE context).
/// <para>
/// Re-dispatch after pieces were already streamed: the user must get one answer, not two, and not a restart. The next
/// attempt resumes (<see cref="Delivery"/>, <see cref="GenerationRequest.Continuation"/>): its worker pre-fills the
/// prompt and the delivered text and writes only the rest, which is streamed as it comes. This holds for sampled
/// answers too (a re-run would not reproduce them: seeded sampling depends on the batch a worker runs it in, see
/// docs/BENCHMARKS.md). Billing: each attempt is billed from its own signed receipt only. A worker that died has
/// signed nothing for its part, so that part is not paid to it; the resuming worker's receipt counts the delivered
/// text among its prompt tokens (it pre-filled them) and only the rest as completion, so the user pays for every
/// delivered token once. A client-sealed request (<see cref="SealedRelay"/>) is resumed by its client, which alone
/// holds the text: it re-seals with the continuation set.
/// </para>
/// </summary>
public sealed partial class Dispatcher(
    WorkerChoice choice,
    AttemptRunner attempts,
    JobBilling billing,
    ReceiptBook receipts,
    ResultRouter router,
    CacheScopes scopes,
    WorkerOutcomes outcomes,
    SlaRefunds refunds,
    Replays replays,
    ReceiptAudit audit,
    GatewayMetrics metrics,
    IOptions<DispatchOptions> options,
    TimeProvider time,
    ILogger<Dispatcher> logger,
    Slashing.Slasher? slasher = null) : IDispatcher
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.RequestId);
        if ((request.Embedding is { } embedding ? EmbeddingRules.Check(embedding) : GenerationRules.Check(request.Generation)) is { } violation)
        {
            throw new GenerationRejectedException(violation);
        }

        // The gateway alone sets the scope; whatever a caller put there is replaced.
        // An embedding job has no KV cache to reuse: it gets no scope.
        if (request.Embedding is null)
        {
            request = request with { Generation = request.Generation with { CacheScope = scopes.For(request.Payer, request.Conversation) } };
        }

        // The caller stopped listening (or the answer is complete): the attempt is stopped; RunAsync releases the hold.
        await foreach (var e in ProducedStream.RunAsync<DispatchEvent>((writer, ct) => RunAsync(request, writer, ct), cancellationToken, drainOnCancel: request.KeepStoppedPart).ConfigureAwait(false))
        {
            yield return e;
        }
    }

    public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken) => Task.FromResult(choice.Served());

    private async Task RunAsync(DispatchRequest request, ChannelWriter<DispatchEvent> events, CancellationToken cancellationToken)
    {
        using var span = CocoonTracing.Gateway.StartActivity("cocoon.dispatch");
        span?.SetTag("cocoon.request_id", request.RequestId);
        span?.SetTag("cocoon.model", request.Model);
        Hold? hold = null;
        Task<Hold>? pendingHold = null;
        EligibleWorker? running = null; // the worker holding the job while an attempt runs
        try
        {
            var gatewayStart = time.GetUtcNow();
            var deadline = gatewayStart + request.Timeout;
            var modelSha = choice.ResolveModel(request.Model);
            choice.CheckKind(modelSha, request);
            using var registration = router.Register(request.RequestId);
            var delivery = new Delivery(events);
            var failed = new List<string>(); // one entry per failed attempt: a worker that fails twice counts twice
            var attempt = 0;
            while (true)
            {
                // The hold starts as soon as the first candidate's lease script is sent (so a busy answer the matcher
                // gives never touches the ledger): the ledger commits it while the lease travels and the job is
                // sealed. It is not awaited here: the attempt waits for it before enqueueing, so no job leaves before
                // its funds are held; a claim that fails in the end (every lease refused) releases it (below). The job
                // is sealed after the lease, not during it: on 2 busy cores sealing beside the lease script only
                // delayed its reply (docs/BENCHMARKS.md, session 7).
                var claimed = await choice.ClaimAsync(request, modelSha, attempt, failed, deadline, cancellationToken, candidate =>
                {
                    if (pendingHold is null && hold is null)
                    {
                        pendingHold = HoldAsync(request, modelSha, candidate, cancellationToken);
                        if (span is { IsAllDataRequested: true })
                        {
                            _ = pendingHold.ContinueWith(_ => StageMarks.Mark(span, "hold-committed"), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                        }
                    }
                }).ConfigureAwait(false);
                var worker = claimed.Worker;
                AttemptOutcome outcome;
                try
                {
                    running = worker;
                    outcome = await attempts.RunAsync(request, worker, attempt, pendingHold, registration.Reader, delivery, gatewayStart, deadline, cancellationToken).ConfigureAwait(false);
                    running = null;
                }
                catch
                {
                    await choice.ReleaseAsync(claimed).ConfigureAwait(false);
                    throw;
                }

                if (pendingHold is not null)
                {
                    // Already complete: the attempt awaited it before enqueueing.
                    hold = await pendingHold.ConfigureAwait(false);
                    pendingHold = null;
                }

                // The attempt is over, so its slot is free: the release travels to Redis while the ledger settles.
                var leaseReleased = choice.ReleaseAsync(claimed);
                if (outcome.Stopped)
                {
                    await leaseReleased.ConfigureAwait(false);
                    if (outcome.Receipt is { } part)
                    {
                        // The caller stopped the answer: bill the part it took, from the worker's receipt for it.
                        var held = hold ?? throw new InvalidOperationException("An attempt that reached a worker always has a hold.");
                        // Billed no more than the gateway saw delivered; the signed receipt is kept as it came.
                        var billedPart = audit.Bill(request, worker, attempt, delivery.Continuation, part, outcome);
                        var charged = await billing.SettleAsync(held, worker.Document.ModelName, billedPart, worker.PriceCoefficient, request.MaxCoefficient, worker.ProviderId, worker.Tier).ConfigureAwait(false);
                        hold = null;
                        await receipts.RecordAsync(request.RequestId, request.Payer, part, worker.Bundle, charged).ConfigureAwait(false);
                        LogStoppedBilled(logger, request.RequestId, worker.Document.WorkerId, attempt, billedPart.CompletionTokens, charged);
                    }

                    throw new OperationCanceledException(cancellationToken);
                }

                if (outcome.Receipt is { } receipt)
                {
                    // The counts billed: the receipt's, bounded by what the gateway sent and received (ReceiptAudit).
                    var billed = audit.Bill(request, worker, attempt, delivery.Continuation, receipt, outcome);
                    long charged;
                    try
                    {
                        var held = hold ?? throw new InvalidOperationException("An attempt that reached a worker always has a hold.");
                        charged = await billing.SettleAsync(held, worker.Document.ModelName, billed, worker.PriceCoefficient, request.MaxCoefficient, worker.ProviderId, worker.Tier).ConfigureAwait(false);
                    }
                    finally
                    {
                        await leaseReleased.ConfigureAwait(false);
                    }

                    hold = null;
                    await receipts.RecordAsync(request.RequestId, request.Payer, receipt, worker.Bundle, charged).ConfigureAwait(false);
                    var refunded = await refunds.RefundAsync(request, worker, billed, outcome.Timings!, charged).ConfigureAwait(false);
                    await CompleteAsync(request, worker, attempt, billed, charged, refunded, gatewayStart, delivery.Continuation, events, cancellationToken).ConfigureAwait(false);
                    span?.SetTag("cocoon.outcome", "completed");
                    span?.SetTag("cocoon.attempts", attempt + 1);

                    // After the answer is complete: the user never waits for the record.
                    await outcomes.CompletedAsync(worker, billed, outcome.Timings!).ConfigureAwait(false);
                    // A resumed answer was written by two workers: a replay of the whole request on one cannot match it.
                    if (delivery.Continuation is null && replays.ShouldReplay(request, worker))
                    {
                        // In the background: the user has the answer and never waits for the check.
                        var delivered = delivery.Text;
                        var tokens = outcome.AnswerTokens;
                        var finish = receipt.Receipt.FinishReason;
                        _ = slasher is null
                            ? replays.CheckAsync(request, worker, delivered, tokens, finish, CancellationToken.None)
                            : slasher.ReplayAsync(replays, request, worker, delivered, tokens, finish);
                    }

                    return;
                }

                await leaseReleased.ConfigureAwait(false);

                // Recorded before the next claim, so the matcher ranks the re-dispatch with the failure counted.
                await outcomes.FailedAsync(worker, outcome.Failure!).ConfigureAwait(false);
                if (await NextAttemptAsync(request, worker, attempt, outcome.Failure!, failed, cancellationToken).ConfigureAwait(false))
                {
                    attempt++;
                    metrics.Redispatched();
                }
            }
        }
        catch (Exception e)
        {
            if (e is TimeoutException && running is not null)
            {
                await outcomes.AbandonedAsync(running).ConfigureAwait(false);
            }

            if (pendingHold is not null)
            {
                // The attempt failed before (or while) waiting for the hold: if the ledger took it, give it back.
                try
                {
                    hold = await pendingHold.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // The hold was refused or cancelled: nothing is held.
                }
            }

            if (hold is not null)
            {
                await billing.ReleaseAsync(hold.Id).ConfigureAwait(false);
            }

            var reason = e switch
            {
                WorkersBusyException => "busy",
                ModelUnavailableException => "unavailable",
                InsufficientFundsException => "insufficient-funds",
                GenerationRejectedException => "invalid-request",
                DispatchFailedException f => f.Reason,
                OperationCanceledException => "cancelled",
                TimeoutException => "timeout",
                _ => "error",
            };
            metrics.Job(reason);
            span?.SetTag("cocoon.outcome", reason);
            span?.SetStatus(ActivityStatusCode.Error, reason);
            events.TryComplete(e);
        }
    }

    /// <summary>The worst case held at the dearest coefficient of the model's workers (the first candidate names the model).</summary>
    private Task<Hold> HoldAsync(DispatchRequest request, string modelSha, EligibleWorker first, CancellationToken cancellationToken) =>
        request.Embedding is { } embedding
            ? billing.HoldAsync(request.Payer, request.RequestId, first.Document.ModelName, embedding, choice.PriceCeiling(modelSha, request, first), cancellationToken)
            : billing.HoldAsync(request.Payer, request.RequestId, first.Document.ModelName, request.Generation, choice.PriceCeiling(modelSha, request, first), cancellationToken, choice.AcceptedTiers(request));

    /// <summary>
    /// After a failed attempt: throws when the request is over (the worker found it invalid, or too many workers
    /// failed it), else notes the worker as failed and returns true to re-dispatch.
    /// </summary>
    private async Task<bool> NextAttemptAsync(DispatchRequest request, EligibleWorker worker, int attempt, string failure, List<string> failed, CancellationToken cancellationToken)
    {
        // Reasons that carry numbers (context-exceeded:p:m:c, input-too-long:i:t:m) are counted by their name only.
        var colon = failure.IndexOf(':', StringComparison.Ordinal);
        metrics.Refused(colon > 0 ? failure[..colon] : failure);
        LogAttemptFailed(logger, request.RequestId, worker.Document.WorkerId, attempt, failure);
        if (ContextExceededException.FromReasonCode(failure) is { } tooLong)
        {
            // The worker's exact count: the same 400 the gateway gives when it can tell before dispatch.
            throw new DispatchFailedException("invalid-request", tooLong.Message);
        }

        if (InputTooLongException.FromReasonCode(failure) is { } inputTooLong)
        {
            throw new GenerationRejectedException(new GenerationViolation("input", inputTooLong.Message, "context_length_exceeded"));
        }

        if (failure == "invalid-request")
        {
            throw new DispatchFailedException("invalid-request", "The worker refused the request as invalid (e.g. the prompt does not fit the model's context).");
        }

        if (failure == "enqueue-failed")
        {
            // Enqueue failures (Redis restarting) do not count: the job never reached a worker.
            await Task.Delay(Tick, time, cancellationToken).ConfigureAwait(false);
            return true;
        }

        failed.Add(worker.Document.WorkerId);
        if (failed.Count >= options.Value.MaxAttempts)
        {
            throw new DispatchFailedException("attempts-exhausted", $"{failed.Count} workers failed this request; the last: {failure}.");
        }

        return true;
    }

    private async Task CompleteAsync(
        DispatchRequest request, EligibleWorker worker, int attempt, Engine.Attestation.UsageReceipt r, long charged, long refunded, DateTimeOffset gatewayStart,
        string? continuation, ChannelWriter<DispatchEvent> events, CancellationToken cancellationToken)
    {
        var gatewayEnd = time.GetUtcNow();
        metrics.Tokens(r.PromptTokens, r.CompletionTokens);
        if (request.Generation.CacheScope is { } scope)
        {
            metrics.CachedTokens(r.CachedPromptTokens);
            scopes.Served(scope, worker.Document.WorkerId);
        }

        metrics.Throughput(r.CompletionTokens, r.WorkerFinishedAt - r.WorkerStartedAt);
        metrics.Job("completed");
        LogCompleted(logger, request.RequestId, worker.Document.WorkerId, attempt, r.PromptTokens, r.CompletionTokens, charged);
        await events.WriteAsync(new DispatchCompleted(new DispatchReceipt(
            request.RequestId, worker.Document.ModelName, r.PromptTokens, r.CompletionTokens, r.FinishReason, charged - refunded,
            worker.Document.WorkerId, worker.ProviderId, worker.Document.TeeKind,
            gatewayStart, r.WorkerStartedAt, r.WorkerFinishedAt, gatewayEnd, r.CachedPromptTokens, refunded)
        {
            RequestSha256 = Convert.ToHexStringLower(r.RequestSha256),
            ResponseSha256 = Convert.ToHexStringLower(r.ResponseSha256),
            SealedRequest = request.Embedding is not null ? null
                : Engine.Attestation.ReceiptHashes.CanonicalRequest(continuation is null ? request.Generation : request.Generation with { Continuation = continuation }),
            Resumed = continuation is not null,
            ResumedAfterBytes = continuation is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(continuation),
        }), cancellationToken).ConfigureAwait(false);
        events.TryComplete();
    }

    [LoggerMessage(EventId = LogEvents.Dispatch + 1, Level = LogLevel.Information, Message = "Request {RequestId} answered by {WorkerId} (attempt {Attempt}): {PromptTokens}+{CompletionTokens} tokens, charged {Charged} nanotons")]
    private static partial void LogCompleted(ILogger logger, string requestId, string workerId, int attempt, int promptTokens, int completionTokens, long charged);

    [LoggerMessage(EventId = LogEvents.Dispatch + 2, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt} on {WorkerId} failed: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, string requestId, string workerId, int attempt, string reason);

    [LoggerMessage(EventId = LogEvents.Dispatch + 9, Level = LogLevel.Information, Message = "Request {RequestId} stopped by the caller on {WorkerId} (attempt {Attempt}): {CompletionTokens} tokens taken, charged {Charged} nanotons")]
    private static partial void LogStoppedBilled(ILogger logger, string requestId, string workerId, int attempt, int completionTokens, long charged);
}
