using Cocoon.Bot.Billing;
using Cocoon.Bot.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Accounts;

namespace Cocoon.Bot.Reputation;

/// <summary>
/// Pays the provider of a worker that served one of the network's own jobs (a spot-check replay, a canary) for the
/// tokens its verified receipt reports, at the worker's price, from the network fee account: checks are the network's
/// cost, never a user's. One ledger entry per job, keyed by its request id (a retry pays once), so the ledger shows
/// every check's cost. Paying for them also keeps them blind: a provider's earnings do not single them out. When the
/// fee account cannot cover it the job goes unpaid (logged); the check itself stands.
/// </summary>
public sealed partial class NetworkJobPayments(JobBilling billing, ILedger ledger, ILogger<NetworkJobPayments> logger)
{
    public const string KeyPrefix = "network-job:";

    /// <summary>The provider's share of the job's price (0 when nothing is due); never throws for a short fee account.</summary>
    public async Task<long> PayAsync(string requestId, EligibleWorker worker, UsageReceipt receipt, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(worker);
        ArgumentNullException.ThrowIfNull(receipt);
        var provider = AccountId.Provider(worker.ProviderId);
        var amount = billing.Split(worker.Document.ModelName, receipt, worker.PriceCoefficient, int.MaxValue, worker.ProviderId, worker.Tier)
            .Where(p => p.Account == provider).Sum(p => p.Amount);
        if (amount <= 0)
        {
            return 0;
        }

        try
        {
            await ledger.CreditAsync(provider, amount, AccountId.NetworkFee, KeyPrefix + requestId, cancellationToken).ConfigureAwait(false);
        }
        catch (InsufficientFundsException e)
        {
            LogUncovered(logger, worker.Document.WorkerId, amount, e);
            return 0;
        }

        return amount;
    }

    [LoggerMessage(EventId = LogEvents.Reputation + 95, Level = LogLevel.Warning, Message = "The network fee account cannot pay {Amount} nanotons for a check job on {WorkerId}; it stays unpaid")]
    private static partial void LogUncovered(ILogger logger, string workerId, long amount, Exception exception);
}
