using Cocoon.Bot.Billing;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Engine.Matching;
using Cocoon.Engine.Reputation;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Automatic refunds for a breached service level. A request of class standard or premium goes only to workers that
/// promise that class; when the gateway's own measurement of the attempt (from enqueueing the job to its first
/// authenticated piece, and completion tokens per second after it) misses the class's published target
/// (<see cref="DispatchOptions.Sla"/>), the user gets back Gateway:Sla:RefundPerMille of what was charged, in whole
/// nanotons rounded down and never more than the provider's share of that charge, moved from the provider's account
/// to the payer in one ledger entry keyed by the request id (a retry refunds once). Best-effort requests promise
/// nothing and are never refunded. The worker's own receipt timings are not used: it could claim anything.
/// </summary>
public sealed partial class SlaRefunds(JobBilling billing, ILedger ledger, IOptions<DispatchOptions> options, ILogger<SlaRefunds> logger)
{
    public const string KeyPrefix = "sla-refund:";

    /// <summary>The target a class promises (null for best effort), as this gateway publishes it.</summary>
    public SlaTarget? Target(SlaClass sla) => options.Value.Sla.Policy().Target(sla);

    /// <summary>Whether the measured attempt breached the class's target.</summary>
    public bool Breached(SlaClass sla, AttemptTimings timings, int completionTokens)
    {
        ArgumentNullException.ThrowIfNull(timings);
        return Target(sla) is { } target
            && (timings.TimeToFirstToken > target.MaxTimeToFirstToken || timings.TokensPerSecond(completionTokens) < target.MinTokensPerSecond);
    }

    /// <summary>
    /// Refunds the payer when the attempt breached the request's class; returns the nanotons refunded (0 when the
    /// class was met, promised nothing, or the provider's account cannot cover it, which is logged).
    /// </summary>
    public async Task<long> RefundAsync(DispatchRequest request, EligibleWorker worker, UsageReceipt receipt, AttemptTimings timings, long charged)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(receipt);
        if (charged <= 0 || !Breached(request.SlaClass, timings, receipt.CompletionTokens))
        {
            return 0;
        }

        var providerShare = billing.Split(worker.Document.ModelName, receipt, worker.PriceCoefficient, request.MaxCoefficient, worker.ProviderId, worker.Tier)
            .Where(p => p.Account == AccountId.Provider(worker.ProviderId)).Sum(p => p.Amount);
        var refund = Math.Min(providerShare, Refund(charged, options.Value.Sla.RefundPerMille));
        if (refund <= 0)
        {
            return 0;
        }

        try
        {
            // Not the caller's token: the breach happened whether or not the caller is still listening.
            await ledger.CreditAsync(request.Payer, refund, AccountId.Provider(worker.ProviderId), KeyPrefix + request.RequestId, CancellationToken.None).ConfigureAwait(false);
        }
        catch (InsufficientFundsException e)
        {
            // The provider's earnings were paid out in between: the breach still costs it reputation.
            LogRefundUncovered(logger, request.RequestId, worker.ProviderId, refund, e);
            return 0;
        }

        LogRefunded(logger, request.RequestId, worker.Document.WorkerId, SlaClasses.Name(request.SlaClass), refund, charged);
        return refund;
    }

    /// <summary>The refund of a charge at a share in thousandths, rounded down to whole nanotons (exact integer arithmetic).</summary>
    public static long Refund(long charged, int perMille) => (long)((Int128)charged * perMille / 1000);

    [LoggerMessage(EventId = LogEvents.Reputation + 10, Level = LogLevel.Information, Message = "Request {RequestId} breached its {SlaClass} class on {WorkerId}: refunded {Refund} of {Charged} nanotons")]
    private static partial void LogRefunded(ILogger logger, string requestId, string workerId, string slaClass, long refund, long charged);

    [LoggerMessage(EventId = LogEvents.Reputation + 11, Level = LogLevel.Warning, Message = "Request {RequestId} breached its class but provider {ProviderId} cannot cover the refund of {Refund} nanotons")]
    private static partial void LogRefundUncovered(ILogger logger, string requestId, string providerId, long refund, Exception exception);
}
