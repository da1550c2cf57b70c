using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Payouts;

/// <summary>A provider's ledger account and the TON address it registered for payouts.</summary>
public sealed record PayoutTarget(string ProviderId, TonAddress Address);

/// <summary>
/// Pays out every provider whose available balance reached the threshold: the whole balance, at most one request
/// per provider per day (<see cref="PayoutRequests.DailyKey"/>), and none while an earlier request of that provider
/// is not yet debited (its amount would be requested twice). The payout sender then debits, batches and sends.
/// </summary>
public sealed class ThresholdPayouts(ILedger ledger, PayoutRequests requests, TimeProvider clock)
{
    /// <summary>Returns the requests made (or found, for a provider already paid today).</summary>
    public async Task<IReadOnlyList<PayoutRequest>> RunOnceAsync(IEnumerable<PayoutTarget> targets, long threshold, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(threshold);
        var made = new List<PayoutRequest>();
        foreach (var target in targets)
        {
            var account = AccountId.Provider(target.ProviderId);
            var balance = await ledger.GetBalanceAsync(account, cancellationToken).ConfigureAwait(false);
            if (balance < threshold || await requests.HasUndebitedAsync(account, cancellationToken).ConfigureAwait(false))
            {
                continue;
            }

            var key = PayoutRequests.DailyKey(target.ProviderId, clock.GetUtcNow());
            made.Add(await requests.RequestAsync(account, target.Address, balance, key, cancellationToken).ConfigureAwait(false));
        }

        return made;
    }
}
