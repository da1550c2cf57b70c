using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Payouts;

/// <summary>Where the bot asks for provider payouts. Requests are recorded, then debited and paid by <see cref="PayoutSender"/>.</summary>
public sealed class PayoutRequests(ChainDbContext db, IOptions<TonOptions> options, TimeProvider clock)
{
    /// <summary>
    /// The key of a provider's payout for one UTC day. The bot's /provider payout and the threshold payouts both use
    /// it, so asking by hand and reaching the threshold on the same day make one payout, not two.
    /// </summary>
    public static string DailyKey(string providerId, DateTimeOffset now) =>
        $"tg-payout:{providerId}:{now.UtcDateTime:yyyyMMdd}";

    /// <summary>True while a request of this provider is recorded but not yet debited (its amount is still in the balance).</summary>
    public Task<bool> HasUndebitedAsync(AccountId provider, CancellationToken cancellationToken) =>
        db.PayoutRequests.AnyAsync(r => r.Provider == provider.Value && r.Status == PayoutStatus.Requested, cancellationToken);

    /// <summary>Records a payout; asking again with the same key returns the first request.</summary>
    public async Task<PayoutRequest> RequestAsync(AccountId provider, TonAddress destination, long amount, string idempotencyKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentException.ThrowIfNullOrEmpty(idempotencyKey);
        if (amount < options.Value.MinimumPayout)
        {
            throw new ArgumentOutOfRangeException(nameof(amount), amount, $"A payout must be at least {options.Value.MinimumPayout} nanotons (Ton:MinimumPayout).");
        }

        var existing = await db.PayoutRequests.AsNoTracking().FirstOrDefaultAsync(r => r.IdempotencyKey == idempotencyKey, cancellationToken).ConfigureAwait(false);
        if (existing is not null)
        {
            return existing;
        }

        var request = new PayoutRequest
        {
            Id = Guid.NewGuid(),
            IdempotencyKey = idempotencyKey,
            Provider = provider.Value,
            Destination = destination.ToRaw(),
            Amount = amount,
            Status = PayoutStatus.Requested,
            CreatedAt = clock.GetUtcNow(),
        };
        db.PayoutRequests.Add(request);
        try
        {
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DbUpdateException)
        {
            // Lost a race with the same key: the other insert won; return it.
            db.ChangeTracker.Clear();
            return await db.PayoutRequests.AsNoTracking().FirstAsync(r => r.IdempotencyKey == idempotencyKey, cancellationToken).ConfigureAwait(false);
        }

        return request;
    }

    public Task<PayoutRequest?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        db.PayoutRequests.AsNoTracking().FirstOrDefaultAsync(r => r.Id == id, cancellationToken);
}
