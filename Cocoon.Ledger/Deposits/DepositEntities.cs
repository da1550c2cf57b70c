namespace Cocoon.Ledger.Deposits;

public enum InvoiceStatus
{
    /// <summary>Nothing has arrived yet.</summary>
    Open,

    /// <summary>Less than the amount due has arrived (what arrived is credited).</summary>
    PartiallyPaid,

    Paid,

    /// <summary>More than the amount due arrived (all of it is credited).</summary>
    Overpaid,
}

/// <summary>A top-up invoice: the user pays the deposit address with <see cref="Comment"/> as the text comment.</summary>
public sealed class DepositInvoice
{
    public Guid Id { get; set; }

    public required string Comment { get; set; }

    /// <summary>The ledger account credited, e.g. "user:42".</summary>
    public required string Account { get; set; }

    public long AmountDue { get; set; }

    public long AmountReceived { get; set; }

    public InvoiceStatus Status { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? PaidAt { get; set; }
}

public enum DepositOutcome
{
    Credited,

    /// <summary>A transfer with no or an unknown comment: kept for an operator, not credited to anyone.</summary>
    Unmatched,

    /// <summary>
    /// The TON a slash took, sent by the stake contract (a SlashPaid message): <see cref="DepositReceipt.Comment"/> holds
    /// the slash's reason hash. Not credited here: the slash's own ledger entries (slash:&lt;reason&gt;,
    /// slash-refund:&lt;reason&gt;) already booked it from the hot wallet.
    /// </summary>
    Slash,
}

/// <summary>One incoming transfer seen on the deposit address, keyed by its transaction hash (so it counts once).</summary>
public sealed class DepositReceipt
{
    public required string TransactionHash { get; set; }

    public long Lt { get; set; }

    public required string Source { get; set; }

    public long Amount { get; set; }

    public string? Comment { get; set; }

    public Guid? InvoiceId { get; set; }

    public string? Account { get; set; }

    public DepositOutcome Outcome { get; set; }

    public DateTimeOffset SeenAt { get; set; }
}

/// <summary>How far the watcher has read an account's transactions (the logical time of the last one handled).</summary>
public sealed class ChainCursor
{
    public required string Account { get; set; }

    public long Lt { get; set; }

    public string? TransactionHash { get; set; }
}
