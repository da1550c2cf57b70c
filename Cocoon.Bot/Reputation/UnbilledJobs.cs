using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Protocol;
using Cocoon.Ledger.Accounts;
using Cocoon.Network.Transport;
using StackExchange.Redis;

namespace Cocoon.Bot.Reputation;

/// <summary>What an unbilled job brought back: the attempt's outcome and the text it delivered.</summary>
public sealed record UnbilledAnswer(AttemptOutcome Outcome, string Text);

/// <summary>
/// The network's own jobs (canaries, spot-check replays) on one chosen worker, through the same lease, sealing and
/// attempt path as a user's job, under a request id drawn like the API's: the worker cannot tell them apart. No user
/// is held or charged; the worker's provider is paid from the network fee account (<see cref="NetworkJobPayments"/>).
/// A busy worker is not asked (the network's jobs never take a user's slot).
/// </summary>
public sealed class UnbilledJobs(WorkerLeases leases, ResultRouter router, AttemptRunner attempts, TimeProvider time, NetworkJobPayments? payments = null)
{
    public static readonly TimeSpan Deadline = TimeSpan.FromMinutes(2);

    /// <summary>Runs the generation on the worker; null when it had no free slot. A deadline passed is the failure "late".</summary>
    public async Task<UnbilledAnswer?> RunAsync(EligibleWorker worker, GenerationRequest generation, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var requestId = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12)); // as the API draws its ids
        var request = new DispatchRequest
        {
            RequestId = requestId,
            Payer = AccountId.NetworkFee,
            Model = worker.Document.ModelSha256,
            Generation = generation with { CacheScope = null },
            Timeout = Deadline,
        };
        var workerId = worker.Document.WorkerId;
        var leaseId = requestId + "/0";
        var start = time.GetUtcNow();
        if (!await leases.TryAcquireAsync(workerId, leaseId, worker.MaxConcurrency, Deadline + TimeSpan.FromSeconds(30), cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        var pieces = Channel.CreateUnbounded<DispatchEvent>();
        AttemptOutcome outcome;
        try
        {
            using var registration = router.Register(requestId);
            outcome = await attempts.RunAsync(request, worker, 0, null, registration.Reader, new Delivery(pieces.Writer), start, start + Deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            outcome = AttemptOutcome.Failed("late");
        }
        catch (DispatchFailedException e)
        {
            outcome = AttemptOutcome.Failed(e.Reason);
        }
        finally
        {
            try
            {
                await leases.ReleaseAsync(workerId, leaseId, CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // The lease expires on its own.
            }
        }

        if (outcome.Receipt is { } receipt && payments is not null)
        {
            await payments.PayAsync(requestId, worker, receipt.Receipt, CancellationToken.None).ConfigureAwait(false);
        }

        pieces.Writer.TryComplete();
        var text = new StringBuilder();
        while (pieces.Reader.TryRead(out var e))
        {
            if (e is DispatchPiece p)
            {
                text.Append(p.Text);
            }
        }

        return new UnbilledAnswer(outcome, text.ToString());
    }
}
