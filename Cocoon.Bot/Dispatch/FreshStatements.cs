using Cocoon.Engine.Attestation;
using Cocoon.Engine.Protocol;
using Cocoon.Network.Transport;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Dispatch;

/// <summary>A worker's answer to a client's nonce, or why there is none ("no-answer", "statement-invalid").</summary>
public sealed record FreshStatement(SignedAttestationStatement? Statement, string? Error);

/// <summary>
/// Asks one attested worker to sign a fresh statement over a client's nonce (through the challenge channel) and waits
/// for it, up to Dispatch:AttestationChallengeWait. The gateway only relays: it cannot sign for the worker, and only a
/// statement the attested key signed over this very nonce is accepted, whoever wrote it into the result stream. Used
/// by <c>GET /v1/attestation</c> and by the sealed reservations that carry a nonce (API clients, the Mini App).
/// </summary>
public sealed class FreshStatements(ResultRouter router, AttestationChallenges challenges, GatewayIdentity gateway, IOptions<DispatchOptions> options)
{
    public async Task<FreshStatement> AskAsync(EligibleWorker worker, byte[] nonce, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var doc = worker.Document;
        await router.Ready.WaitAsync(cancellationToken).ConfigureAwait(false);
        var challengeId = "att-" + Guid.NewGuid().ToString("N");
        using var registration = router.Register(challengeId);
        if (!challenges.Challenge(doc.WorkerId, new AttestationChallenge(challengeId, gateway.Id, nonce)))
        {
            return new FreshStatement(null, "no-answer");
        }

        var error = "no-answer";
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.AttestationChallengeWait);
        try
        {
            while (await registration.Reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false))
            {
                while (registration.Reader.TryRead(out var result))
                {
                    if (result.Kind != ResultKind.Statement || result.WorkerId != doc.WorkerId)
                    {
                        continue;
                    }

                    // Anyone who can write to Redis could add an entry here: only a statement the attested key signed
                    // over this nonce counts.
                    if (SignedAttestationStatement.Accept(result.Statement, doc, nonce) is { } statement)
                    {
                        return new FreshStatement(statement, null);
                    }

                    error = "statement-invalid";
                }
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // The worker did not answer in time: reported as such.
        }

        return new FreshStatement(null, error);
    }
}
