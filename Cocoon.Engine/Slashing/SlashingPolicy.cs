namespace Cocoon.Engine.Slashing;

public enum Fault
{
    /// <summary>A failed spot check that the third worker confirmed: the original worker was in the minority.</summary>
    LostTieBreak,
    /// <summary>A canary answer that failed the network's own reference scoring (wrong model, truncated, cached).</summary>
    FailedCanary,
    /// <summary>A replay that no peer could check, failed under the network's own reference worker.</summary>
    FailedReferenceReplay,
    /// <summary>A receipt that claimed more tokens than were delivered.</summary>
    ReceiptMismatch,
}

/// <summary>What a proven fault costs: the amount taken from the stake and where it goes, in nanotons.</summary>
public sealed record SlashDecision(long Amount, long ToUser, long ToNetwork, bool BelowMinimumAfter);

/// <summary>
/// Slashing is for proven faults only. A checker outvoted in a tie-break, a slow answer (an SLA breach, refunded from
/// earnings instead) or a dropped job lowers reputation but never touches the stake: those can happen to an honest
/// worker, and a stake must only be taken on evidence that two independent verdicts, or the network's own reference,
/// agree on. A slash takes <see cref="Share"/> of the stake (at least <see cref="MinimumSlash"/>, at most the stake);
/// <see cref="UserShare"/> of it refunds the affected user, the rest goes to the network.
/// </summary>
public sealed record SlashingPolicy
{
    public double Share { get; init; } = 0.10;

    /// <summary>A receipt overclaim is billing fraud rather than a wrong answer: a smaller share by default.</summary>
    public double ReceiptShare { get; init; } = 0.05;

    public long MinimumSlash { get; init; } = 1_000_000_000;

    public double UserShare { get; init; } = 0.5;

    /// <summary>A worker whose provider's stake is below this is not matched (nanotons).</summary>
    public long MinimumStake { get; init; } = 10_000_000_000;

    public SlashDecision Decide(Fault fault, long stake)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(stake);
        var share = fault == Fault.ReceiptMismatch ? ReceiptShare : Share;
        var amount = Math.Min(stake, Math.Max(MinimumSlash, (long)(stake * share)));
        var toUser = (long)(amount * UserShare);
        return new SlashDecision(amount, toUser, amount - toUser, stake - amount < MinimumStake);
    }
}
