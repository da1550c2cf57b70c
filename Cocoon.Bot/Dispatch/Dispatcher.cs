using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// The gateway's side of private dispatch: hold funds, pick an attested worker under its concurrency cap, seal the
/// request to it with HPKE, enqueue, open the sealed answer in order while streaming it, verify the signed receipt,
/// settle. A worker that dies, stalls or sends a broken stream is replaced by the next one (a fresh HPKE context).
/// <para>
/// Re-dispatch after pieces were already streamed: the user must get one answer, not two. Buffering every attempt
/// until it completes would give up streaming, so instead the already-delivered text is remembered and the next
/// worker's answer is compared with it: while it reproduces that prefix nothing is sent, and only the part beyond it
/// is streamed. With the same model, seed and sampling the text is the same (llama.cpp is deterministic for one
/// sequence on CPU); if it diverges the request ends with <c>retry-diverged</c>, the hold is released and nothing
/// is charged — the user saw part of an answer but is never shown two spliced ones.
/// </para>
/// </summary>
public sealed partial class Dispatcher(
    WorkerDirectory directory,
    WorkerLeases leases,
    JobStreams jobs,
    JobCancellations cancellations,
    ResultRouter router,
    GatewayIdentity gateway,
    ILedger ledger,
    DispatchPricing pricing,
    GatewayMetrics metrics,
    IOptions<DispatchOptions> options,
    TimeProvider time,
    ILogger<Dispatcher> logger) : IDispatcher
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);

    public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentException.ThrowIfNullOrWhiteSpace(request.RequestId);
        if (request.Generation.Sampling.MaxTokens <= 0)
        {
            throw new ArgumentException("MaxTokens must be positive.", nameof(request));
        }

        var events = Channel.CreateUnbounded<DispatchEvent>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var run = RunAsync(request, events.Writer, cts.Token);
        try
        {
            await foreach (var e in events.Reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }

            await run.ConfigureAwait(false);
        }
        finally
        {
            // The caller stopped listening (or the answer is complete): stop the attempt; the hold is released by RunAsync.
            await cts.CancelAsync().ConfigureAwait(false);
            await run.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken)
    {
        var configured = options.Value.Models.ToDictionary(m => m.Sha256.ToLowerInvariant(), m => m.Name, StringComparer.OrdinalIgnoreCase);
        var byModel = directory.Eligible.GroupBy(w => w.Document.ModelSha256, StringComparer.OrdinalIgnoreCase).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.OrdinalIgnoreCase);
        var models = new List<ServedModel>();
        foreach (var sha in configured.Keys.Union(byModel.Keys, StringComparer.OrdinalIgnoreCase).Order(StringComparer.Ordinal))
        {
            var workers = byModel.TryGetValue(sha, out var list) ? list : [];
            var name = configured.TryGetValue(sha, out var n) ? n : workers[0].Document.ModelName;
            models.Add(new ServedModel(name, sha, [.. workers.Select(w =>
                new ServedWorker(w.Document.WorkerId, w.ProviderId, w.PriceCoefficient, w.Running, w.MaxConcurrency, w.Document.TeeKind))]));
        }

        return Task.FromResult<IReadOnlyList<ServedModel>>(models);
    }

    private async Task RunAsync(DispatchRequest request, ChannelWriter<DispatchEvent> events, CancellationToken cancellationToken)
    {
        Hold? hold = null;
        Task<Hold>? pendingHold = null;
        try
        {
            var gatewayStart = time.GetUtcNow();
            var deadline = gatewayStart + request.Timeout;
            var modelSha = ResolveModel(request.Model);
            if (Match(modelSha, request, []).Outcome == MatchOutcome.NoWorker)
            {
                throw new ModelUnavailableException(request.Model);
            }

            using var registration = router.Register(request.RequestId);
            var delivery = new Delivery(events);
            var tried = new HashSet<string>(StringComparer.Ordinal);
            var attempt = 0;
            var failures = 0;
            while (true)
            {
                var (worker, leaseId) = await AcquireAsync(request, modelSha, attempt, tried, deadline, cancellationToken).ConfigureAwait(false);
                if (hold is null && pendingHold is null)
                {
                    // Hold after the first lease, so a busy answer never touches the ledger. The hold covers the
                    // dearest worker this request may end up on (a re-dispatch may pick another). It is not awaited
                    // here: the ledger commits it while the job is sealed, and the attempt waits for it before enqueueing.
                    try
                    {
                        var ceiling = Math.Min(request.MaxCoefficient, directory.Eligible.Where(w => w.Document.ModelSha256 == modelSha).Select(w => w.PriceCoefficient).DefaultIfEmpty(worker.PriceCoefficient).Max());
                        pendingHold = ledger.HoldAsync(request.Payer, pricing.Reserve(worker.Document.ModelName, request.Generation, ceiling), "dispatch:" + request.RequestId, cancellationToken);
                    }
                    catch
                    {
                        await ReleaseLeaseAsync(worker.Document.WorkerId, leaseId).ConfigureAwait(false);
                        throw;
                    }
                }

                AttemptOutcome outcome;
                try
                {
                    outcome = await RunAttemptAsync(request, worker, attempt, pendingHold, registration.Reader, delivery, gatewayStart, deadline, cancellationToken).ConfigureAwait(false);
                }
                catch
                {
                    await ReleaseLeaseAsync(worker.Document.WorkerId, leaseId).ConfigureAwait(false);
                    throw;
                }

                if (pendingHold is not null)
                {
                    // Already complete: the attempt awaited it before enqueueing.
                    hold = await pendingHold.ConfigureAwait(false);
                    pendingHold = null;
                }

                // The attempt is over, so its slot is free: the release travels to Redis while the ledger settles.
                var leaseReleased = ReleaseLeaseAsync(worker.Document.WorkerId, leaseId);
                if (outcome.Receipt is { } receipt)
                {
                    var payees = pricing.Charge(worker.Document.ModelName, receipt.Receipt, worker.PriceCoefficient, request.MaxCoefficient, worker.ProviderId);
                    long charged;
                    try
                    {
                        // Settling must not be abandoned half way because the caller went away: the answer was delivered.
                        var held = hold ?? throw new InvalidOperationException("An attempt that reached a worker always has a hold.");
                        charged = await ledger.SettleAsync(held.Id, payees, CancellationToken.None).ConfigureAwait(false);
                    }
                    finally
                    {
                        await leaseReleased.ConfigureAwait(false);
                    }

                    hold = null;
                    var gatewayEnd = time.GetUtcNow();
                    var r = receipt.Receipt;
                    metrics.Tokens(r.PromptTokens, r.CompletionTokens);
                    metrics.Throughput(r.CompletionTokens, r.WorkerFinishedAt - r.WorkerStartedAt);
                    metrics.Job("completed");
                    LogCompleted(logger, request.RequestId, worker.Document.WorkerId, attempt, r.PromptTokens, r.CompletionTokens, charged);
                    await events.WriteAsync(new DispatchCompleted(new DispatchReceipt(
                        request.RequestId, worker.Document.ModelName, r.PromptTokens, r.CompletionTokens, r.FinishReason, charged,
                        worker.Document.WorkerId, worker.ProviderId, worker.Document.TeeKind,
                        gatewayStart, r.WorkerStartedAt, r.WorkerFinishedAt, gatewayEnd)), cancellationToken).ConfigureAwait(false);
                    events.TryComplete();
                    return;
                }

                await leaseReleased.ConfigureAwait(false);
                metrics.Refused(outcome.Failure!);
                LogAttemptFailed(logger, request.RequestId, worker.Document.WorkerId, attempt, outcome.Failure!);
                if (outcome.Failure == "invalid-request")
                {
                    throw new DispatchFailedException("invalid-request", "The worker refused the request as invalid (e.g. the prompt does not fit the model's context).");
                }

                if (outcome.Failure != "enqueue-failed")
                {
                    // Enqueue failures (Redis restarting) do not count: the job never reached a worker.
                    tried.Add(worker.Document.WorkerId);
                    if (++failures >= options.Value.MaxAttempts)
                    {
                        throw new DispatchFailedException("attempts-exhausted", $"{failures} workers failed this request; the last: {outcome.Failure}.");
                    }
                }
                else
                {
                    await Task.Delay(Tick, time, cancellationToken).ConfigureAwait(false);
                }

                attempt++;
            }
        }
        catch (Exception e)
        {
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
                await ReleaseHoldAsync(hold.Id).ConfigureAwait(false);
            }

            metrics.Job(e switch
            {
                WorkersBusyException => "busy",
                ModelUnavailableException => "unavailable",
                InsufficientFundsException => "insufficient-funds",
                DispatchFailedException f => f.Reason,
                OperationCanceledException => "cancelled",
                TimeoutException => "timeout",
                _ => "error",
            });
            events.TryComplete(e);
        }
    }

    private string ResolveModel(string model)
    {
        var configured = options.Value.Models.FirstOrDefault(m => string.Equals(m.Name, model, StringComparison.OrdinalIgnoreCase)
            || string.Equals(m.Sha256, model, StringComparison.OrdinalIgnoreCase));
        if (configured is not null)
        {
            return configured.Sha256.ToLowerInvariant();
        }

        var served = directory.Eligible.FirstOrDefault(w => string.Equals(w.Document.ModelName, model, StringComparison.OrdinalIgnoreCase)
            || string.Equals(w.Document.ModelSha256, model, StringComparison.OrdinalIgnoreCase));
        return served?.Document.ModelSha256 ?? throw new ModelUnavailableException(model);
    }

    /// <summary>The engine's matcher over the workers that passed this gateway's policy.</summary>
    private MatchResult Match(string modelSha, DispatchRequest request, IReadOnlyCollection<string> exclude) =>
        Matcher.Rank(
            new JobSpec { Model = modelSha, MaxCoefficient = request.MaxCoefficient, PreferredRegion = request.Region, ExcludedWorkers = exclude },
            [.. directory.Eligible.Select(w => new WorkerSnapshot
            {
                WorkerId = w.Document.WorkerId,
                ProviderId = w.ProviderId,
                ModelName = w.Document.ModelName,
                ModelSha256 = w.Document.ModelSha256,
                RunningJobs = w.Running,
                MaxConcurrency = w.MaxConcurrency,
                AverageJobTime = TimeSpan.FromMilliseconds(w.AverageJobMilliseconds),
                PriceCoefficient = w.PriceCoefficient,
                Region = w.Document.Region,
            })]);

    private async Task<(EligibleWorker Worker, string LeaseId)> AcquireAsync(
        DispatchRequest request, string modelSha, int attempt, HashSet<string> tried, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var leaseId = $"{request.RequestId}/{attempt}";
        while (true)
        {
            // Prefer workers that have not failed this request; fall back to them only when nobody else is left.
            var match = Match(modelSha, request, tried);
            if (match.Outcome == MatchOutcome.NoWorker && tried.Count > 0)
            {
                match = Match(modelSha, request, []);
            }

            // The registry's load is a moment old: workers it shows as full may have a free slot by now, so they are
            // tried last; the lease script is what enforces the cap.
            var full = match.Excluded.Where(x => x.Reason == MatchExclusion.Full).Select(x => directory.Find(x.WorkerId)).OfType<EligibleWorker>()
                .OrderBy(w => w.Running * Math.Max(w.AverageJobMilliseconds, 1)).Select(w => w.Document.WorkerId);
            foreach (var workerId in match.Ranked.Select(w => w.WorkerId).Concat(full))
            {
                if (directory.Find(workerId) is not { } worker)
                {
                    continue;
                }

                try
                {
                    if (await leases.TryAcquireAsync(worker.Document.WorkerId, leaseId, worker.MaxConcurrency, deadline - time.GetUtcNow() + TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
                    {
                        return (worker, leaseId);
                    }
                }
                catch (Exception e) when (e is RedisException or TimeoutException)
                {
                    break;
                }
            }

            if (attempt == 0 && match.Outcome != MatchOutcome.NoWorker)
            {
                // Every worker is at its cap: say so now rather than queue behind an unknown wait.
                throw new WorkersBusyException(match.RetryAfter ?? Matcher.DefaultRetryAfter);
            }

            if (attempt == 0)
            {
                throw new ModelUnavailableException(request.Model);
            }

            if (time.GetUtcNow() >= deadline)
            {
                throw new TimeoutException($"No worker could take request {request.RequestId} before its deadline.");
            }

            // A re-dispatch waits for a slot or a replacement worker until the request's deadline.
            await Task.Delay(Tick * 2, time, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<AttemptOutcome> RunAttemptAsync(
        DispatchRequest request, EligibleWorker worker, int attempt, Task<Hold>? pendingHold, ChannelReader<ResultEnvelope> results, Delivery delivery,
        DateTimeOffset gatewayStart, DateTimeOffset deadline, CancellationToken cancellationToken)
    {
        var doc = worker.Document;
        using var sender = Hpke.SetupSender(doc.HpkePublicKey, JobBinding.Info(request.RequestId, attempt, doc.WorkerId, doc.ModelSha256));
        var plaintext = JsonSerializer.SerializeToUtf8Bytes(request.Generation, WireJsonContext.Default.GenerationRequest);
        byte[] ciphertext;
        try
        {
            ciphertext = sender.Seal(JobBinding.Aad(gateway.Id), plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }

        using var opener = ChunkOpener.Create(sender, request.RequestId);
        var job = new JobEnvelope
        {
            RequestId = request.RequestId,
            Attempt = attempt,
            WorkerId = doc.WorkerId,
            ModelSha256 = doc.ModelSha256,
            ReplyTo = gateway.Id,
            EncapsulatedKey = sender.Enc,
            Ciphertext = ciphertext,
            IssuedAt = time.GetUtcNow(),
            Deadline = deadline,
        };
        if (pendingHold is not null)
        {
            // No job leaves the gateway before its funds are held (an error here ends the request, not the attempt).
            await pendingHold.ConfigureAwait(false);
        }

        try
        {
            await jobs.EnqueueAsync(job, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Unknown whether the XADD landed: never retry the same sealed job (a second run would reuse its stream
            // key); the next attempt re-seals. A landed copy answers to an attempt nobody listens to any more.
            return AttemptOutcome.Failed("enqueue-failed");
        }

        metrics.Enqueued();
        var queued = true;
        // Until the worker says it is done (its final chunk or a refusal), leaving this attempt for any reason (the
        // caller went away, a deadline, a stall, a broken stream) tells the worker to stop and free its slot.
        var workerDone = false;
        var lastProgress = time.GetUtcNow();
        delivery.BeginAttempt();
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

                    lastProgress = time.GetUtcNow();
                    if (result.Kind == ResultKind.Error)
                    {
                        workerDone = true;
                        return AttemptOutcome.Failed(result.Error is { Length: > 0 and <= 64 } reason ? reason : "worker-error");
                    }

                    if (result.Sequence < opener.NextSequence)
                    {
                        metrics.Refused("chunk-replayed");
                        continue; // a duplicate of an entry already opened: the request id + attempt + sequence dedupe it
                    }

                    if (result.Sequence > opener.NextSequence)
                    {
                        return AttemptOutcome.Failed("chunk-out-of-order");
                    }

                    byte[] piece;
                    try
                    {
                        piece = opener.Open(new SealedChunk(result.Sequence, result.Kind == ResultKind.Final, result.Ciphertext ?? []));
                    }
                    catch (ChunkStreamException)
                    {
                        return AttemptOutcome.Failed("chunk-tampered");
                    }

                    if (queued)
                    {
                        queued = false;
                        metrics.Dequeued();
                    }

                    var firstBefore = delivery.Delivered == 0;
                    if (!await delivery.OfferAsync(Encoding.UTF8.GetString(piece), cancellationToken).ConfigureAwait(false))
                    {
                        throw new DispatchFailedException("retry-diverged", "The replacement worker's answer differs from what was already streamed.");
                    }

                    if (firstBefore && delivery.Delivered > 0)
                    {
                        metrics.FirstToken(time.GetUtcNow() - gatewayStart);
                    }

                    if (result.Kind == ResultKind.Final)
                    {
                        workerDone = true;
                        if (!delivery.AttemptCoversDelivered)
                        {
                            throw new DispatchFailedException("retry-diverged", "The replacement worker's answer is shorter than what was already streamed.");
                        }

                        return VerifyReceipt(request, doc, result.Receipt, opener.TranscriptHash) is { } receipt
                            ? AttemptOutcome.Completed(receipt)
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
        finally
        {
            if (queued)
            {
                metrics.Dequeued();
            }

            if (!workerDone)
            {
                cancellations.Cancel(doc.WorkerId, request.RequestId, attempt);
                LogCancelSent(logger, request.RequestId, doc.WorkerId, attempt);
            }
        }
    }

    private static SignedUsageReceipt? VerifyReceipt(DispatchRequest request, AttestationDocument doc, byte[]? bytes, byte[] transcriptHash)
    {
        if (bytes is null)
        {
            return null;
        }

        SignedUsageReceipt receipt;
        try
        {
            receipt = SignedUsageReceipt.FromJson(Encoding.UTF8.GetString(bytes));
        }
        catch (Exception e) when (e is JsonException or ArgumentException or FormatException)
        {
            return null;
        }

        var r = receipt.Receipt;
        return receipt.Verify(doc.SigningPublicKey)
            && r.RequestId == request.RequestId
            && r.WorkerId == doc.WorkerId
            && string.Equals(r.ModelSha256, doc.ModelSha256, StringComparison.OrdinalIgnoreCase)
            && r.ChunksSha256 is { Length: 32 }
            && CryptographicOperations.FixedTimeEquals(r.ChunksSha256, transcriptHash)
            && r.PromptTokens >= 0 && r.CompletionTokens >= 0
            && r.CompletionTokens <= request.Generation.Sampling.MaxTokens
            ? receipt
            : null;
    }

    private async Task ReleaseHoldAsync(Guid holdId)
    {
        try
        {
            await ledger.ReleaseAsync(holdId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The ledger's hold expiry releases it later; the user is not charged either way.
            LogReleaseFailed(logger, holdId, e);
        }
    }

    private async Task ReleaseLeaseAsync(string workerId, string leaseId)
    {
        try
        {
            await leases.ReleaseAsync(workerId, leaseId, CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // The lease expires on its own.
        }
    }

    private sealed record AttemptOutcome(SignedUsageReceipt? Receipt, string? Failure)
    {
        public static AttemptOutcome Completed(SignedUsageReceipt receipt) => new(receipt, null);

        public static AttemptOutcome Failed(string reason) => new(null, reason);
    }

    /// <summary>
    /// What the user has been sent, across attempts. A new attempt's text is checked against the delivered prefix
    /// and only what goes beyond it is streamed.
    /// </summary>
    private sealed class Delivery(ChannelWriter<DispatchEvent> events)
    {
        private readonly StringBuilder _delivered = new();
        private int _attemptLength;

        public int Delivered => _delivered.Length;

        public bool AttemptCoversDelivered => _attemptLength >= _delivered.Length;

        public void BeginAttempt() => _attemptLength = 0;

        /// <summary>False when the attempt's text departs from what the user already has.</summary>
        public async ValueTask<bool> OfferAsync(string piece, CancellationToken cancellationToken)
        {
            var start = _attemptLength;
            _attemptLength += piece.Length;
            var overlap = Math.Clamp(_delivered.Length - start, 0, piece.Length);
            for (var i = 0; i < overlap; i++)
            {
                if (_delivered[start + i] != piece[i])
                {
                    return false;
                }
            }

            if (overlap < piece.Length)
            {
                var fresh = piece[overlap..];
                _delivered.Append(fresh);
                await events.WriteAsync(new DispatchPiece(fresh), cancellationToken).ConfigureAwait(false);
            }

            return true;
        }
    }

    [LoggerMessage(EventId = 3201, Level = LogLevel.Information, Message = "Request {RequestId} answered by {WorkerId} (attempt {Attempt}): {PromptTokens}+{CompletionTokens} tokens, charged {Charged} nanotons")]
    private static partial void LogCompleted(ILogger logger, string requestId, string workerId, int attempt, int promptTokens, int completionTokens, long charged);

    [LoggerMessage(EventId = 3202, Level = LogLevel.Warning, Message = "Request {RequestId} attempt {Attempt} on {WorkerId} failed: {Reason}")]
    private static partial void LogAttemptFailed(ILogger logger, string requestId, string workerId, int attempt, string reason);

    [LoggerMessage(EventId = 3204, Level = LogLevel.Debug, Message = "Request {RequestId} attempt {Attempt} left before {WorkerId} finished it: cancel sent")]
    private static partial void LogCancelSent(ILogger logger, string requestId, string workerId, int attempt);

    [LoggerMessage(EventId = 3203, Level = LogLevel.Error, Message = "Releasing hold {HoldId} failed; it expires on its own")]
    private static partial void LogReleaseFailed(ILogger logger, Guid holdId, Exception exception);
}
