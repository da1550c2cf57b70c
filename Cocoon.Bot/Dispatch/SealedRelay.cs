using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Cocoon.Bot.Billing;
using Cocoon.Bot.Receipts;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Crypto;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cocoon.Bot.Dispatch;

/// <summary>
/// A client-sealed request's first step: the gateway fixes what the HPKE binding needs (request id, attempt, worker,
/// model hash, deadline, its own reply stream) and holds the worker's slot, so the client can seal to exactly that
/// worker. One use only: taking it for the sealed body removes it, so a sealed body can never run twice under the same
/// stream key.
/// </summary>
/// <param name="Deadline">
/// Bound into the HPKE info (wire v2, <see cref="JobBinding.Info"/>) as UTC ticks, and whole milliseconds so a client
/// without 64-bit integers in its date type computes the same ticks.
/// </param>
/// <param name="AttestationBundle">The worker's signed bundle as it published it, whose document the directory verified.</param>
public sealed record SealedReservation(
    string RequestId,
    int Attempt,
    string GatewayId,
    ClaimedWorker Claimed,
    AccountId Payer,
    int MaxTokens,
    DateTimeOffset ExpiresAt,
    DateTimeOffset Deadline,
    byte[] AttestationBundle)
{
    public EligibleWorker Worker => Claimed.Worker;
}

public abstract record SealedRelayEvent;

/// <summary>A sealed piece of the answer exactly as the worker sealed it; only the client can open it.</summary>
public sealed record SealedRelayChunk(long Sequence, bool IsFinal, byte[] Ciphertext) : SealedRelayEvent;

/// <summary>The end: the worker's signed receipt (JSON, hashes and counts only) and what the ledger charged.</summary>
public sealed record SealedRelayCompleted(string ReceiptJson, UsageReceipt Receipt, long ChargedNanotons) : SealedRelayEvent;

/// <summary>
/// The client-sealed attempt failed; nothing was charged. The gateway cannot re-seal for another worker (it never held
/// the plaintext), so the client re-seals: <see cref="Retryable"/> says whether a new reservation may succeed.
/// </summary>
/// <param name="workerMac">
/// On a worker's refusal: its MAC under the job's control key, passed on as it came. Only the client holds that key,
/// so only the client can tell a real refusal from one forged by someone else who can write to the result stream.
/// </param>
public sealed class SealedAttemptFailedException(string reason, string workerId, bool retryable, byte[]? workerMac = null)
    : Exception($"The sealed attempt on worker {workerId} failed ({reason}); nothing was charged." + (retryable ? " Reserve again (excluding this worker) and re-seal." : string.Empty))
{
    public string Reason { get; } = reason;
    public string WorkerId { get; } = workerId;
    public bool Retryable { get; } = retryable;
    public byte[]? WorkerMac { get; } = workerMac;
}

/// <summary>
/// The gateway's relay for client-sealed requests: it routes by the plaintext routing fields only (model, max_tokens,
/// tiers, the reserved worker), holds the worst case from max_tokens and the sealed body's length, enqueues the client's
/// HPKE ciphertext as the job, and passes the worker's sealed chunks back unopened. It holds no HPKE context, so it
/// cannot open them; it checks their order and hashes the ciphertexts, which is all the worker's signed receipt needs.
/// </summary>
/// <remarks>
/// <para>Control messages (wire v2) are MACed with a key exported from the job's HPKE context, which here only the
/// client has. The gateway still has to stop the worker when the client disconnects or presses stop, or when the relay
/// gives up (deadline, stall, a lost worker): so the client sends, with the sealed body, the one MAC that message needs,
/// <c>JobControlKey.Cancel(request id, attempt, worker id)</c>, computed from its own HPKE context. That MAC authorizes
/// exactly "stop this attempt on this worker" and nothing else: the gateway cannot forge a refusal, open a chunk or
/// cancel any other job with it, and it never holds the control key. (Sending the key itself would have let the gateway
/// forge the worker's refusals to the client; sending nothing would leave a disconnected client's job running, and
/// billed, to its end.) A client that sends a wrong MAC only stops its own cancels from working.</para>
/// <para>The worker's refusals carry a MAC under the same key, which the gateway cannot check: a refusal ends the relay
/// (and a cancel follows, in case it was not the worker's), nothing is billed, and the refusal's MAC is passed to the
/// client, which checks it. Forged chunks cannot be opened by the client and break the receipt's transcript check, so
/// they end the request unbilled too. Whoever can write to this gateway's result stream can therefore end a
/// client-sealed request, but never read it, change its answer or make it billed.</para>
/// <para>Re-dispatch is impossible without the client: the gateway cannot seal to another worker. A failure answers
/// the client with a sealed_attempt_failed error (retryable or not), releases the hold and spends the reservation; the
/// client reserves again (new request id, new hold) and re-seals. A late answer to the failed attempt finds no
/// listener and is dropped, so nothing is billed twice. Resuming is the client's too: only it holds the text it was
/// sent, so it re-seals the request with that text as its <c>continuation</c> (GenerationRequest.Continuation) and the
/// new worker writes only the rest; the gateway stays blind either way. A client that re-seals without it gets a fresh
/// answer, as before.</para>
/// </remarks>
public sealed partial class SealedRelay(
    WorkerChoice choice,
    JobStreams jobs,
    JobCancellations cancellations,
    WorkerDirectory directory,
    WorkerRegistry registry,
    GatewayIdentity gateway,
    ResultRouter router,
    JobBilling billing,
    ReceiptBook receipts,
    GatewayMetrics metrics,
    IOptions<DispatchOptions> options,
    TimeProvider time,
    ILogger<SealedRelay> logger)
{
    /// <summary>How long a reservation waits for its sealed body (sealing takes milliseconds; this covers a slow client).</summary>
    public static readonly TimeSpan ReservationLifetime = TimeSpan.FromSeconds(60);

    /// <summary>The whole request, reservation to receipt, as a normal dispatch allows.</summary>
    public static readonly TimeSpan RequestTimeout = TimeSpan.FromMinutes(2);

    private const int DefaultMaxCoefficient = 4000;
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(100);
    private readonly ConcurrentDictionary<string, SealedReservation> _reservations = new(StringComparer.Ordinal);

    /// <summary>Claims a slot on the best worker of the model (skipping <paramref name="exclude"/>) and fixes the binding.</summary>
    public async Task<SealedReservation> ReserveAsync(
        AccountId payer, string? model, int maxTokens, IReadOnlyCollection<string> exclude, IReadOnlyList<string>? tiers, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(exclude);
        await PurgeExpiredAsync().ConfigureAwait(false);
        var requestId = "sealed-" + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(12));
        var routing = new DispatchRequest
        {
            RequestId = requestId,
            Payer = payer,
            Model = model,
            // Routing only: the matcher reads max_tokens; the real request is sealed and never seen here.
            Generation = new GenerationRequest { Prompt = string.Empty, Sampling = new SamplingOptions { MaxTokens = maxTokens } },
            Tiers = tiers,
        };
        var modelSha = choice.ResolveModel(model);
        var now = time.GetUtcNow();
        var deadline = DateTimeOffset.FromUnixTimeMilliseconds((now + RequestTimeout).ToUnixTimeMilliseconds());
        var claimed = await choice.ClaimAsync(routing, modelSha, 0, exclude, deadline, cancellationToken).ConfigureAwait(false);
        if (exclude.Contains(claimed.Worker.Document.WorkerId))
        {
            // The matcher falls back to failed workers when nothing else is eligible; a client that excluded a worker
            // (it failed this client's sealed request) asked for another one, so there is none.
            await choice.ReleaseAsync(claimed).ConfigureAwait(false);
            throw new ModelUnavailableException(model);
        }

        // The client verifies the worker itself, so it gets the bundle as the worker signed it; the document inside
        // must be the one this gateway verified and routed by (a worker that re-attested since is picked up next refresh).
        var doc = claimed.Worker.Document;
        byte[]? bundle;
        try
        {
            bundle = (await registry.GetRegistrationAsync(doc.WorkerId, cancellationToken).ConfigureAwait(false))?.Attestation;
        }
        catch
        {
            await choice.ReleaseAsync(claimed).ConfigureAwait(false);
            throw;
        }

        if (bundle is null || !SameDocument(bundle, doc))
        {
            await choice.ReleaseAsync(claimed).ConfigureAwait(false);
            throw new ModelUnavailableException(model);
        }

        var reservation = new SealedReservation(requestId, 0, gateway.Id, claimed, payer, maxTokens, now + ReservationLifetime, deadline, bundle);
        _reservations[requestId] = reservation;
        LogReserved(logger, requestId, doc.WorkerId);
        return reservation;
    }

    private static bool SameDocument(byte[] bundleJson, AttestationDocument verified)
    {
        try
        {
            var published = AttestationBundle.FromJson(Encoding.UTF8.GetString(bundleJson)).Document;
            return published.ToCanonicalBytes().AsSpan().SequenceEqual(verified.ToCanonicalBytes());
        }
        catch (Exception e) when (e is JsonException or FormatException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Takes the caller's reservation (once); null when unknown, expired, taken or another caller's.</summary>
    public SealedReservation? Take(AccountId payer, string requestId)
    {
        if (!_reservations.TryGetValue(requestId, out var r) || r.Payer != payer || !_reservations.TryRemove(new(requestId, r)))
        {
            return null;
        }

        if (time.GetUtcNow() > r.ExpiresAt)
        {
            _ = choice.ReleaseAsync(r.Claimed);
            return null;
        }

        return r;
    }

    /// <summary>Gives back a reservation that will not be used (the sealed body was refused before relaying).</summary>
    public Task AbandonAsync(SealedReservation reservation)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        return choice.ReleaseAsync(reservation.Claimed);
    }

    /// <summary>Relays one client-sealed job; failures end the stream with <see cref="SealedAttemptFailedException"/>.</summary>
    /// <param name="cancelMac">The client's <c>JobControlKey.Cancel</c> MAC for this attempt (see the class remarks).</param>
    public async IAsyncEnumerable<SealedRelayEvent> RelayAsync(
        SealedReservation reservation, byte[] encapsulatedKey, byte[] ciphertext, byte[] cancelMac, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reservation);
        await foreach (var e in ProducedStream.RunAsync<SealedRelayEvent>(
            (writer, ct) => RunAsync(reservation, encapsulatedKey, ciphertext, cancelMac, writer, ct), cancellationToken).ConfigureAwait(false))
        {
            yield return e;
        }
    }

    private async Task RunAsync(
        SealedReservation r, byte[] enc, byte[] ciphertext, byte[] cancelMac, ChannelWriter<SealedRelayEvent> events, CancellationToken cancellationToken)
    {
        var doc = r.Worker.Document;
        var tier = r.Worker.Tier;
        Hold? hold = null;
        var workerDone = false;
        var enqueued = false;
        var queued = false;
        try
        {
            using var registration = router.Register(r.RequestId);
            // The sealed body is the GenerationRequest JSON plus a 16-byte tag: its length bounds the prompt's bytes,
            // and a token is at least one byte, so it bounds the prompt's tokens (what the hold and the receipt check use).
            var promptBound = ciphertext.Length;
            hold = await billing.HoldSealedAsync(r.Payer, r.RequestId, doc.ModelName, promptBound, r.MaxTokens, Math.Min(DefaultMaxCoefficient, r.Worker.PriceCoefficient), tier, cancellationToken).ConfigureAwait(false);
            var job = new JobEnvelope
            {
                RequestId = r.RequestId,
                Attempt = r.Attempt,
                WorkerId = doc.WorkerId,
                ModelSha256 = doc.ModelSha256,
                ReplyTo = r.GatewayId,
                // The key in the document the client verified (the same one the directory verified, see ReserveAsync).
                RecipientKey = doc.HpkePublicKey,
                EncapsulatedKey = enc,
                Ciphertext = ciphertext,
                IssuedAt = time.GetUtcNow(),
                Deadline = r.Deadline,
            };
            try
            {
                await jobs.EnqueueAsync(job, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                workerDone = true; // nothing to cancel: whether it landed is unknown, and the client re-seals anyway
                throw Failed("enqueue-failed", doc.WorkerId);
            }

            enqueued = true;
            queued = true;
            metrics.Enqueued();
            using var transcript = new TranscriptHasher();
            long next = 0;
            var lastProgress = time.GetUtcNow();
            while (true)
            {
                while (registration.Reader.TryRead(out var result))
                {
                    if (result.Attempt != r.Attempt || result.WorkerId != doc.WorkerId)
                    {
                        continue;
                    }

                    lastProgress = time.GetUtcNow();
                    if (result.Kind == ResultKind.Error)
                    {
                        // Not authenticated here (see the remarks): the attempt ends unbilled, the cancel in finally
                        // stops the job in case the refusal was not the worker's, and the client checks the MAC.
                        throw Failed(result.Error is { Length: > 0 and <= 64 } reason ? reason : "worker-error", doc.WorkerId, result.Mac);
                    }

                    if (result.Sequence < next)
                    {
                        metrics.Refused("chunk-replayed");
                        continue;
                    }

                    if (result.Sequence > next)
                    {
                        throw Failed("chunk-out-of-order", doc.WorkerId);
                    }

                    var sealedPiece = result.Ciphertext ?? [];
                    transcript.Append(sealedPiece);
                    next++;
                    if (queued)
                    {
                        queued = false;
                        metrics.Dequeued();
                    }

                    var isFinal = result.Kind == ResultKind.Final;
                    await events.WriteAsync(new SealedRelayChunk(result.Sequence, isFinal, sealedPiece), cancellationToken).ConfigureAwait(false);
                    if (!isFinal)
                    {
                        continue;
                    }

                    workerDone = true;
                    // The receipt is checked against what the gateway can see: the ciphertext transcript and the
                    // plaintext routing bounds (max_tokens; the sealed body's length for the prompt). The request and
                    // response hashes it signs are the client's to check: the gateway never saw either text.
                    if (SignedUsageReceipt.Accept(result.Receipt, doc, r.RequestId, transcript.Finish(), r.MaxTokens, ReceiptContent.Blind(stopped: false)) is not { } receipt
                        || receipt.Receipt.PromptTokens > promptBound)
                    {
                        throw Failed("receipt-invalid", doc.WorkerId);
                    }

                    var charged = await billing.SettleAsync(hold, doc.ModelName, receipt.Receipt, r.Worker.PriceCoefficient, DefaultMaxCoefficient, r.Worker.ProviderId, tier).ConfigureAwait(false);
                    hold = null;
                    // Kept for its payer and the next anchor before the client hears of it, so "verify" finds it.
                    await receipts.RecordAsync(r.RequestId, r.Payer, receipt, r.Worker.Bundle, charged).ConfigureAwait(false);
                    metrics.Tokens(receipt.Receipt.PromptTokens, receipt.Receipt.CompletionTokens);
                    metrics.Job("completed");
                    LogRelayed(logger, r.RequestId, doc.WorkerId, receipt.Receipt.PromptTokens, receipt.Receipt.CompletionTokens, charged);
                    await events.WriteAsync(new SealedRelayCompleted(Encoding.UTF8.GetString(result.Receipt!), receipt.Receipt, charged), cancellationToken).ConfigureAwait(false);
                    events.TryComplete();
                    return;
                }

                var now = time.GetUtcNow();
                if (now >= r.Deadline)
                {
                    throw Failed("timeout", doc.WorkerId);
                }

                if (!directory.IsRegistered(doc.WorkerId))
                {
                    throw Failed("worker-lost", doc.WorkerId);
                }

                if (now - lastProgress > options.Value.StallTimeout)
                {
                    throw Failed("stalled", doc.WorkerId);
                }

                using var tick = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                tick.CancelAfter(Tick);
                try
                {
                    if (!await registration.Reader.WaitToReadAsync(tick.Token).ConfigureAwait(false))
                    {
                        throw new InvalidOperationException("The result router stopped.");
                    }
                }
                catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                {
                }
            }
        }
        catch (Exception e)
        {
            metrics.Job(e switch
            {
                SealedAttemptFailedException f => "sealed-" + f.Reason,
                InsufficientFundsException => "insufficient-funds",
                OperationCanceledException => "cancelled",
                _ => "error",
            });
            if (e is SealedAttemptFailedException failed)
            {
                metrics.Refused(failed.Reason);
                LogRelayFailed(logger, r.RequestId, doc.WorkerId, failed.Reason);
            }

            events.TryComplete(e);
        }
        finally
        {
            if (queued)
            {
                metrics.Dequeued();
            }

            if (enqueued && !workerDone)
            {
                // The client's precomputed MAC: the worker stops this attempt only if it verifies under the job's key.
                cancellations.Cancel(doc.WorkerId, r.RequestId, r.Attempt, cancelMac);
                LogCancelSent(logger, r.RequestId, doc.WorkerId);
            }

            if (hold is not null)
            {
                await billing.ReleaseAsync(hold.Id).ConfigureAwait(false);
            }

            await choice.ReleaseAsync(r.Claimed).ConfigureAwait(false);
        }
    }

    /// <summary>Invalid requests stay invalid on any worker; every other failure may pass on another one.</summary>
    private static SealedAttemptFailedException Failed(string reason, string workerId, byte[]? workerMac = null) =>
        new(reason, workerId, retryable: reason != "invalid-request" && !reason.StartsWith("context-exceeded:", StringComparison.Ordinal), workerMac);

    private async Task PurgeExpiredAsync()
    {
        var now = time.GetUtcNow();
        foreach (var (id, r) in _reservations)
        {
            if (now > r.ExpiresAt && _reservations.TryRemove(new(id, r)))
            {
                await choice.ReleaseAsync(r.Claimed).ConfigureAwait(false);
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.SealedRelay + 1, Level = LogLevel.Debug, Message = "Sealed request {RequestId} reserved on {WorkerId}")]
    private static partial void LogReserved(ILogger logger, string requestId, string workerId);

    [LoggerMessage(EventId = LogEvents.SealedRelay + 2, Level = LogLevel.Information, Message = "Sealed request {RequestId} relayed from {WorkerId}: {PromptTokens}+{CompletionTokens} tokens, charged {Charged} nanotons")]
    private static partial void LogRelayed(ILogger logger, string requestId, string workerId, int promptTokens, int completionTokens, long charged);

    [LoggerMessage(EventId = LogEvents.SealedRelay + 3, Level = LogLevel.Warning, Message = "Sealed request {RequestId} on {WorkerId} failed: {Reason}; the client must re-seal")]
    private static partial void LogRelayFailed(ILogger logger, string requestId, string workerId, string reason);

    [LoggerMessage(EventId = LogEvents.SealedRelay + 4, Level = LogLevel.Debug, Message = "Sealed request {RequestId} left before {WorkerId} finished it: the client's cancel sent")]
    private static partial void LogCancelSent(ILogger logger, string requestId, string workerId);
}
