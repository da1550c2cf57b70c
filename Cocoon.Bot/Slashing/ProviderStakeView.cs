using System.Globalization;
using System.Text;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Ledger.Ton;
using StackExchange.Redis;

namespace Cocoon.Bot.Slashing;

/// <summary>
/// A provider's stake as the chain reports it (nanotons): bonded, waiting out the unbonding delay, slashed in total,
/// the reason hash of the last slash, and whether the bonded stake meets the network's minimum. AddressProven is false
/// when the payout address is set but its wallet is not the one the provider's Telegram user proved (ton_proof in the
/// Mini App): then nothing at it counts (<see cref="StakeCache"/>) and the stake shows as none.
/// </summary>
public sealed record ProviderStakeView(
    string? Address, long Stake, long PendingWithdrawal, long UnbondingEnd, long SlashedTotal, string? LastSlashReason, long Minimum, bool Sufficient, bool AddressProven = true)
{
    /// <summary>What the provider must do when its payout wallet's stake does not count (one sentence).</summary>
    public const string LinkWallet = "Your payout wallet is not linked to your Telegram account, so its stake does not count (and nothing is matched or slashed on it): link that wallet in the Mini App (TON Connect) for its stake to count.";

    /// <summary>Slashes listed per provider at most.</summary>
    public const int SlashesShown = 20;

    /// <summary>The provider's stake (read from the chain now) and its recent slashes; nulls when stakes are off or unreadable.</summary>
    public static async Task<(ProviderStakeView? Stake, IReadOnlyList<ProviderSlashView>? Slashes)> ReadAsync(
        string providerId, StakeCache? stakes, SlashBook? slashes, CancellationToken cancellationToken)
    {
        if (stakes is null || !stakes.Enabled)
        {
            return (null, null);
        }

        ProviderStakeView? view = null;
        if (await stakes.ReadAsync(providerId, cancellationToken).ConfigureAwait(false) is ({ } p, var address, var proven))
        {
            var minimum = stakes.Minimum;
            view = new ProviderStakeView(address?.ToRaw(), p.Stake, p.Pending, p.UnbondingEnd, p.SlashedTotal, p.LastSlashReason, minimum, p.Stake >= minimum, address is null || proven);
        }

        IReadOnlyList<ProviderSlashView>? list = null;
        if (slashes is not null)
        {
            try
            {
                list = [.. (await slashes.ForProviderAsync(providerId, SlashesShown, cancellationToken).ConfigureAwait(false)).Select(ProviderSlashView.From)];
            }
            catch (RedisException)
            {
                // The report still shows the rest.
            }
        }

        return (view, list);
    }

    /// <summary>The stake and slashes as lines of the bot's /provider status message.</summary>
    public static void Format(StringBuilder text, ProviderStakeView? stake, IReadOnlyList<ProviderSlashView>? slashes)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (stake is not null)
        {
            text.Append(CultureInfo.InvariantCulture, $"Stake: {Money.Ton(stake.Stake)}");
            text.Append(stake.Sufficient ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" (below the {Money.Ton(stake.Minimum)} minimum: staked tiers get no jobs)"));
            if (stake.PendingWithdrawal > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $", withdrawing {Money.Ton(stake.PendingWithdrawal)} after {DateTimeOffset.FromUnixTimeSeconds(stake.UnbondingEnd):yyyy-MM-dd HH:mm} UTC");
            }

            if (stake.SlashedTotal > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $", slashed {Money.Ton(stake.SlashedTotal)} in total");
            }

            text.Append(stake.Address is null ? " (no payout address: stake from the wallet you are paid to)" : string.Empty).Append('\n');
        }

        foreach (var s in slashes ?? [])
        {
            text.Append(CultureInfo.InvariantCulture, $"• slash {s.At:yyyy-MM-dd HH:mm} {s.Fault} on {s.WorkerId}: {Money.Ton(s.Amount)} ({s.State}), reason {s.ReasonHash}\n");
        }
    }
}

/// <summary>One slash of the provider: why (the fault and the evidence whose SHA-256 the contract keeps), how much, where it stands.</summary>
public sealed record ProviderSlashView(
    string ReasonHash, string Fault, string WorkerId, long Amount, long ToUser, string State, string? TransactionHash, DateTimeOffset At, string Evidence)
{
    public static ProviderSlashView From(SlashRecord r)
    {
        ArgumentNullException.ThrowIfNull(r);
        return new(r.ReasonHash, r.Fault, r.WorkerId, r.Amount, r.ToUser, r.State, r.TransactionHash, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAtMs), r.Evidence);
    }
}
