using System.Globalization;
using System.Text;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Telegram.Accounts;
using Cocoon.Engine.Matching;
using Cocoon.Ledger.Stake;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Providers;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Slashing;

/// <summary>
/// /provider stake: the provider's stake as the chain reports it now (bonded, withdrawing and until when, slashed in
/// total), what the network requires (Gateway:Stake: the staked tiers, the minimum for any job and per SLA class),
/// whether each of its online workers can be matched for each class with that stake, its slashes (reason hash,
/// transaction), and how to stake: ton:// links to the stake contract carrying the contract's own messages (Deposit,
/// RequestWithdrawal, Withdraw), to be sent from the payout wallet, which is the one its stake is read for (and counted only once the provider's
/// Telegram user proved that wallet in the Mini App).
/// </summary>
public sealed class ProviderStakeReport(StakeCache stakes, SlashBook slashes, IOptions<StakeOptions> options, IDispatcher dispatcher, TimeProvider time, IServiceProvider services)
{
    /// <summary>The value attached to a RequestWithdrawal or Withdraw for the contract's gas (what is left stays with the contract).</summary>
    public const long MessageGas = 50_000_000;

    /// <summary>What the deposit link adds when every requirement is met already.</summary>
    public const long TopUp = 10_000_000_000;

    public const string NoStakes = "This network checks no stakes (it has no stake contract, Ton:StakeContract): your workers are matched without one and nothing is slashed.";

    public async Task<string> FormatAsync(ProviderInfo provider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(provider);
        var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"{provider.ProviderId} · {provider.Profile.Name}\n");
        var reader = services.GetService<StakeReader>();
        if (!stakes.Enabled || reader?.Contract is not { } contract)
        {
            return text.Append(NoStakes).ToString();
        }

        var o = options.Value;
        var (view, list) = await ProviderStakeView.ReadAsync(provider.ProviderId, stakes, slashes, cancellationToken).ConfigureAwait(false);
        var testnet = services.GetService<NetworkWallet>()?.Testnet ?? false;
        var bonded = view?.Stake ?? 0;
        if (view is null)
        {
            text.Append("Stake: could not be read from the chain just now; try again in a minute.\n");
        }
        else
        {
            text.Append(CultureInfo.InvariantCulture, $"Stake on chain: {Money.Ton(view.Stake)} bonded");
            if (view.PendingWithdrawal > 0)
            {
                var end = DateTimeOffset.FromUnixTimeSeconds(view.UnbondingEnd);
                text.Append(CultureInfo.InvariantCulture, $", {Money.Ton(view.PendingWithdrawal)} withdrawing ");
                text.Append(end <= time.GetUtcNow() ? "(unbonded: withdraw it now)" : string.Create(CultureInfo.InvariantCulture, $"(unbonding until {end:yyyy-MM-dd HH:mm} UTC; still slashable until then)"));
            }

            text.Append(CultureInfo.InvariantCulture, $", slashed {Money.Ton(view.SlashedTotal)} in total.\n");
        }

        if (view is { AddressProven: false })
        {
            text.Append(ProviderStakeView.LinkWallet).Append('\n');
        }

        var required = new[] { SlaClass.BestEffort, SlaClass.Standard, SlaClass.Premium }.Select(c => (Class: c, Amount: o.Required(c))).ToList();
        text.Append(CultureInfo.InvariantCulture, $"Required in tiers {string.Join(", ", o.StakedTiers)} (Gateway:Stake): ")
            .Append(string.Join(", ", required.Select(r => string.Create(CultureInfo.InvariantCulture, $"{Name(r.Class)} {Money.Ton(r.Amount)}"))))
            .Append(". Only the bonded stake counts, not a withdrawal in progress.\n");

        var workers = (await dispatcher.GetModelsAsync(cancellationToken).ConfigureAwait(false))
            .SelectMany(m => m.Workers).Where(w => w.ProviderId == provider.ProviderId)
            .DistinctBy(w => w.WorkerId).ToList();
        text.Append(workers.Count == 0 ? "No worker online.\n" : "Workers:\n");
        foreach (var w in workers)
        {
            text.Append(CultureInfo.InvariantCulture, $"• {w.WorkerId} ({w.Tier}): ");
            if (!stakes.Needed(w.Tier))
            {
                text.Append("needs no stake in its tier: matched for every class.\n");
                continue;
            }

            var ok = required.Where(r => bonded >= r.Amount).Select(r => Name(r.Class)).ToList();
            var not = required.Where(r => bonded < r.Amount).Select(r => Name(r.Class)).ToList();
            text.Append(ok.Count == 0 ? "not matched for any job" : "matched for " + string.Join(", ", ok))
                .Append(not.Count == 0 || ok.Count == 0 ? "" : "; not for " + string.Join(", ", not)).Append(".\n");
        }

        if (list is { Count: > 0 })
        {
            text.Append("Slashes (the reason is the SHA-256 of the evidence record; look the transaction up on the chain):\n");
            foreach (var s in list)
            {
                text.Append(CultureInfo.InvariantCulture, $"• {s.At:yyyy-MM-dd HH:mm} {s.Fault} on {s.WorkerId}: {Money.Ton(s.Amount)} ({s.State}), reason {s.ReasonHash}, transaction {s.TransactionHash ?? "not yet on chain"}\n");
            }
        }

        if (view?.Address is not { } raw || !TonAddress.TryParse(raw, out var payout) || payout is null)
        {
            return text.Append("You have no payout address, so nothing can be staked for you: your stake is read for the wallet you are paid to. Set one with /provider address <TON address>.").ToString();
        }

        long fee;
        try
        {
            fee = await reader.DepositFeeAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ToncenterException or HttpRequestException)
        {
            return text.Append("The stake contract's deposit fee could not be read just now; try again in a minute for the deposit link.").ToString();
        }

        var target = required.Max(r => r.Amount);
        var add = bonded >= target ? TopUp : target - bonded;
        text.Append(CultureInfo.InvariantCulture, $"To stake, send from your payout wallet {payout.ToFriendly(bounceable: false, testOnly: testnet)} (only its deposits count for you) to the stake contract {contract.ToFriendly(bounceable: true, testOnly: testnet)} with the contract's Deposit message; the contract keeps {Money.Ton(fee)} of each deposit. ")
            .Append(CultureInfo.InvariantCulture, $"This link adds {Money.Ton(add)}{(bonded >= target ? string.Empty : " (to the premium requirement)")}:\n")
            .Append(StakeContract.TransferLink(contract, add + fee, StakeContract.DepositBody(0), testnet)).Append('\n');
        if (bonded > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"To take it back: request the withdrawal (it stays slashable through the unbonding delay), then withdraw after it. Request all {Money.Ton(bonded)}:\n")
                .Append(StakeContract.TransferLink(contract, MessageGas, StakeContract.RequestWithdrawalBody(0, bonded), testnet)).Append('\n');
        }

        if (view.PendingWithdrawal > 0)
        {
            text.Append("Withdraw once unbonded:\n").Append(StakeContract.TransferLink(contract, MessageGas, StakeContract.WithdrawBody(0), testnet)).Append('\n');
        }

        return text.ToString().TrimEnd();
    }

    private static string Name(SlaClass sla) => sla switch
    {
        SlaClass.Premium => "premium",
        SlaClass.Standard => "standard",
        _ => "best effort",
    };
}
