namespace Cocoon.Ledger.Data;

// Times are stored as Unix milliseconds (UTC) so that the same SQL compares them on SQLite and PostgreSQL;
// EF's SQLite mapping of DateTimeOffset is text that does not order across offsets.

/// <summary>An account with its posted balance and its active holds cached beside the postings (the checker proves both).</summary>
public sealed class LedgerAccount
{
    public required string Id { get; set; }

    /// <summary>System sources (hot wallet, Stars clearing, free allowance) may go below zero; people may not.</summary>
    public bool AllowNegative { get; set; }

    /// <summary>Sum of this account's postings.</summary>
    public long Balance { get; set; }

    /// <summary>Sum of this account's active holds.</summary>
    public long Held { get; set; }

    public long CreatedAtMs { get; set; }
}

/// <summary>One balanced change: its postings sum to zero. The idempotency key is unique.</summary>
public sealed class JournalEntry
{
    public long Id { get; set; }

    public required string IdempotencyKey { get; set; }

    /// <summary>settle, credit or free-allowance.</summary>
    public required string Kind { get; set; }

    /// <summary>The hold a settlement charged, if any.</summary>
    public string? HoldId { get; set; }

    /// <summary>The amount moved (the charge of a settlement, the credit of a credit).</summary>
    public long Amount { get; set; }

    public long CreatedAtMs { get; set; }
}

public sealed class Posting
{
    public long Id { get; set; }

    public long EntryId { get; set; }

    public required string AccountId { get; set; }

    /// <summary>Positive credits the account, negative debits it.</summary>
    public long Amount { get; set; }
}

public enum HoldState
{
    Active = 0,
    Settled = 1,
    Released = 2,
    Expired = 3,
}

/// <summary>A reservation against a payer's balance; it becomes postings only when settled.</summary>
public sealed class HoldRecord
{
    public required string Id { get; set; }

    public required string IdempotencyKey { get; set; }

    public required string Payer { get; set; }

    public long Amount { get; set; }

    public HoldState State { get; set; }

    /// <summary>What the settlement charged (0 unless settled).</summary>
    public long Charged { get; set; }

    /// <summary>What went back to the payer (Amount - Charged once closed).</summary>
    public long Released { get; set; }

    public long CreatedAtMs { get; set; }

    public long ExpiresAtMs { get; set; }

    public long? ClosedAtMs { get; set; }
}
