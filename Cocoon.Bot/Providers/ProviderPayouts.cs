using System.Globalization;
using Cocoon.Bot.Telegram;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Payouts;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Providers;
using StackExchange.Redis;

namespace Cocoon.Bot.Providers;

public enum PayoutOutcomeKind
{
    /// <summary>The provider has no valid TON payout address.</summary>
    NoAddress,
    /// <summary>The provider's account holds nothing to pay.</summary>
    NothingToPay,
    /// <summary>Less than the minimum payout (Ton:MinimumPayout).</summary>
    BelowMinimum,
    /// <summary>A payout request in the chain database; the payout service sends it in its next batch.</summary>
    Requested,
    /// <summary>No TON payout service on this host: the request is recorded in Redis for the operator's payout run.</summary>
    Recorded,
    /// <summary>Already asked today (one request per provider per UTC day).</summary>
    AlreadyAsked,
    /// <summary>Neither a TON chain nor the bot's Redis record on this host: nowhere to put the request.</summary>
    Unavailable,
}

/// <summary>What a payout request came to: the amount and address it names, and the request id when one was made.</summary>
public sealed record PayoutOutcome(PayoutOutcomeKind Kind, long Amount, TonAddress? Address, Guid? RequestId = null);

/// <summary>
/// The one rule for a provider asking to be paid, used by the bot's <c>/provider payout</c> and the Mini App's
/// provider screen: the whole pending balance, to the registered payout address, at most one request per provider
/// per UTC day (asking twice never pays twice).
/// </summary>
/// <param name="keys">The bot's Redis keys, where a host without a TON chain records requests; null without the bot.</param>
public sealed class ProviderPayouts(ILedger ledger, IServiceScopeFactory scopes, IConnectionMultiplexer redis, TimeProvider time, TelegramKeys? keys = null)
{
    public async Task<PayoutOutcome> RequestAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        if (provider.Profile.PayoutAddress is not { } addressText || !TonAddress.TryParse(addressText, out var address) || address is null)
        {
            return new PayoutOutcome(PayoutOutcomeKind.NoAddress, 0, null);
        }

        var account = AccountId.Provider(provider.ProviderId);
        var amount = await ledger.GetBalanceAsync(account, cancellationToken).ConfigureAwait(false);
        if (amount <= 0)
        {
            return new PayoutOutcome(PayoutOutcomeKind.NothingToPay, 0, address);
        }

        var key = PayoutRequests.DailyKey(provider.ProviderId, time.GetUtcNow());
        // PayoutRequests owns a DbContext, so it lives in a scope of its own; hosts without a TON chain register none.
        await using var scope = scopes.CreateAsyncScope();
        if (scope.ServiceProvider.GetService<PayoutRequests>() is { } payouts)
        {
            try
            {
                var request = await payouts.RequestAsync(account, address, amount, key, cancellationToken).ConfigureAwait(false);
                return new PayoutOutcome(PayoutOutcomeKind.Requested, request.Amount, address, request.Id);
            }
            catch (ArgumentOutOfRangeException)
            {
                return new PayoutOutcome(PayoutOutcomeKind.BelowMinimum, amount, address);
            }
        }

        if (keys is null)
        {
            return new PayoutOutcome(PayoutOutcomeKind.Unavailable, amount, address);
        }

        // No TON payout service in this host: the request is recorded durably for the operator's payout run.
        var added = await redis.GetDatabase().HashSetAsync(keys.PayoutRequests, key,
            $"{account.Value} {address.ToRaw()} {amount.ToString(CultureInfo.InvariantCulture)} {time.GetUtcNow().ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}",
            When.NotExists).WaitAsync(cancellationToken).ConfigureAwait(false);
        return new PayoutOutcome(added ? PayoutOutcomeKind.Recorded : PayoutOutcomeKind.AlreadyAsked, amount, address);
    }
}
