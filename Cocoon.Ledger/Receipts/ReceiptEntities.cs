namespace Cocoon.Ledger.Receipts;

/// <summary>
/// One verified usage receipt as the gateway stored it: hashes, counts and signatures only, never text. The payer is
/// who may read it back; the anchor columns are set once a Merkle root over it is committed on chain.
/// </summary>
public sealed class ReceiptRecord
{
    /// <summary>The request id (unique per answer: one receipt per request).</summary>
    public required string RequestId { get; set; }

    /// <summary>The account that paid (the API key's or Telegram user's): the only one who can fetch it.</summary>
    public required string Payer { get; set; }

    public required string WorkerId { get; set; }

    /// <summary>The signed receipt exactly as the worker sent it (SignedUsageReceipt JSON).</summary>
    public required string SignedReceiptJson { get; set; }

    /// <summary>The worker's attestation bundle the gateway verified it under (public: keys, measurement, quote).</summary>
    public required string AttestationJson { get; set; }

    public long ChargedNanotons { get; set; }

    /// <summary>The anchor takes receipts in (CreatedAtMs, RequestId) order, so a period's leaves are fixed.</summary>
    public long CreatedAtMs { get; set; }

    public long? AnchorId { get; set; }

    public int? LeafIndex { get; set; }
}

/// <summary>A Merkle root over a period's receipts, committed on TON by a message from the network wallet.</summary>
public sealed class ReceiptAnchor
{
    public long Id { get; set; }

    /// <summary>The root, lowercase hex.</summary>
    public required string RootHex { get; set; }

    public int LeafCount { get; set; }

    /// <summary>The signed external message's hash (base64, as the chain API reports it); the chain's transaction is found from it.</summary>
    public string? MessageHash { get; set; }

    /// <summary>The wallet's transaction that carries the root (base64 hash as the chain API reports it, and logical time), once seen on chain.</summary>
    public string? TransactionHash { get; set; }

    public long? TransactionLt { get; set; }

    /// <summary>What committing the root cost the network wallet, in nanotons (its transaction's total fees plus the forwarding fee of the root message).</summary>
    public long? FeeNanotons { get; set; }

    public long CreatedAtMs { get; set; }
}
