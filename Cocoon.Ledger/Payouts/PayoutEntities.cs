namespace Cocoon.Ledger.Payouts;

public enum PayoutStatus
{
    /// <summary>Recorded; the provider's ledger account is not debited yet.</summary>
    Requested,

    /// <summary>Debited in the ledger; waiting for a batch.</summary>
    Debited,

    /// <summary>In a signed batch that may or may not have reached the chain.</summary>
    Batched,

    Confirmed,

    /// <summary>The provider's balance did not cover it; nothing was debited or paid.</summary>
    Rejected,
}

public sealed class PayoutRequest
{
    public Guid Id { get; set; }

    /// <summary>The caller's key (e.g. the bot's request id): asking twice with it makes one payout.</summary>
    public required string IdempotencyKey { get; set; }

    /// <summary>The provider's ledger account, e.g. "provider:abc".</summary>
    public required string Provider { get; set; }

    /// <summary>Raw destination address.</summary>
    public required string Destination { get; set; }

    public long Amount { get; set; }

    public PayoutStatus Status { get; set; }

    public Guid? BatchId { get; set; }

    public string? Error { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ConfirmedAt { get; set; }
}

public enum BatchStatus
{
    /// <summary>Signed and stored; maybe sent, maybe not (a crash can fall in between).</summary>
    Prepared,

    /// <summary>The chain API accepted it; not yet seen executed.</summary>
    Sent,

    Confirmed,

    /// <summary>valid_until passed with the wallet seqno unchanged: it can never execute; its payouts were re-queued.</summary>
    Expired,
}

/// <summary>One signed wallet v5r1 transfer carrying many payouts. Stored before it is sent so a restart can check the chain.</summary>
public sealed class PayoutBatch
{
    public Guid Id { get; set; }

    /// <summary>The raw address of the wallet that signed it: settling reads that wallet, even after a key change.</summary>
    public required string Wallet { get; set; }

    public long Seqno { get; set; }

    public long ValidUntil { get; set; }

    public required byte[] Boc { get; set; }

    /// <summary>Base64 hash of the external message, as the chain API reports the transaction's in_msg.</summary>
    public required string MessageHash { get; set; }

    /// <summary>The wallet's last transaction lt before this batch: the search for its transaction starts after it.</summary>
    public long WalletLtBefore { get; set; }

    public BatchStatus Status { get; set; }

    public string? TransactionHash { get; set; }

    public DateTimeOffset CreatedAt { get; set; }

    public DateTimeOffset? ConfirmedAt { get; set; }
}
