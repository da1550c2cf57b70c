using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using System.Text;

namespace Cocoon.Worker.Hosting;

/// <summary>
/// Answers a client's attestation nonce, relayed by a gateway (<see cref="AttestationChallenges"/>): signs a fresh
/// <see cref="AttestationStatement"/> with the worker's attested key and appends it to the gateway's result stream.
/// A statement is a few hundred bytes and one Ed25519 signature (tens of µs); at most <see cref="MaxInFlight"/>
/// answers are written at once and the rest are dropped, so a flood of challenges cannot crowd out the job loop.
/// </summary>
public sealed class ChallengeResponder(ResultStreams results, TimeProvider time, ILogger<ChallengeResponder> logger)
{
    private const int MaxInFlight = 16;

    private static readonly TimeSpan WriteTimeout = TimeSpan.FromSeconds(5);

    private int _inFlight;

    /// <summary>Fire and forget from the subscription's callback: signs now, writes in the background.</summary>
    public void Answer(WorkerSession session, AttestationChallenge challenge, CancellationToken stopping)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentNullException.ThrowIfNull(challenge);
        if (Interlocked.Increment(ref _inFlight) > MaxInFlight)
        {
            Interlocked.Decrement(ref _inFlight);
            WorkerLog.ChallengeDropped(logger, challenge.ChallengeId, "too-many");
            return;
        }

        var document = session.Bundle.Document;
        var signed = new AttestationStatement
        {
            Nonce = challenge.Nonce,
            WorkerId = session.WorkerId,
            ModelSha256 = session.ModelSha256,
            HpkePublicKey = document.HpkePublicKey,
            IssuedAt = time.GetUtcNow(),
        }.Sign(session.Identity);
        var envelope = new ResultEnvelope
        {
            RequestId = challenge.ChallengeId,
            Attempt = 0,
            WorkerId = session.WorkerId,
            Kind = ResultKind.Statement,
            Statement = Encoding.UTF8.GetBytes(signed.ToJson()),
        };
        _ = WriteAsync(challenge, envelope, stopping);
    }

    private async Task WriteAsync(AttestationChallenge challenge, ResultEnvelope envelope, CancellationToken stopping)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stopping);
            timeout.CancelAfter(WriteTimeout);
            await results.AppendAsync(challenge.ReplyTo, envelope, timeout.Token).ConfigureAwait(false);
            WorkerLog.ChallengeAnswered(logger, challenge.ChallengeId, challenge.ReplyTo);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or OperationCanceledException)
        {
            WorkerLog.ChallengeDropped(logger, challenge.ChallengeId, "write-failed");
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
