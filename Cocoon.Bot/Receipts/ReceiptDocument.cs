using System.Text.Json.Nodes;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Bot.Receipts;

/// <summary>
/// The JSON a client verifies (see the receipt format in the report/README): the exact signed bytes in base64, so a
/// verifier never re-serializes, the parsed receipt for reading, the attestation bundle, and the anchor with its proof.
/// </summary>
public static class ReceiptDocument
{
    /// <summary>The message the worker's Ed25519 key signs: this prefix, then the canonical receipt bytes.</summary>
    public const string SignedPrefix = "cocoon usage receipt v1\0";

    /// <param name="anchorAccount">The network wallet (raw address) whose transaction holds the root, where a chain is configured.</param>
    public static JsonObject Build(ReceiptRecord record, ReceiptAnchor? anchor, IReadOnlyList<ReceiptRecord>? leaves, string? anchorAccount = null)
    {
        ArgumentNullException.ThrowIfNull(record);
        var signed = SignedUsageReceipt.FromJson(record.SignedReceiptJson);
        var canonical = signed.Receipt.ToCanonicalBytes();
        var doc = new JsonObject
        {
            ["id"] = record.RequestId,
            ["object"] = "cocoon.receipt",
            ["receipt"] = JsonNode.Parse(canonical),
            ["receipt_canonical"] = Convert.ToBase64String(canonical),
            ["signed_prefix"] = SignedPrefix,
            ["signature"] = Convert.ToBase64String(signed.Signature),
            ["leaf"] = Convert.ToHexStringLower(ReceiptMerkle.Leaf(canonical, signed.Signature)),
            ["charged_nanotons"] = record.ChargedNanotons,
            ["attestation"] = record.AttestationJson.Length > 0 ? JsonNode.Parse(record.AttestationJson) : null,
            ["anchor"] = anchor is null || leaves is null ? null : Anchor(record, anchor, leaves, anchorAccount),
        };
        return doc;
    }

    private static JsonObject Anchor(ReceiptRecord record, ReceiptAnchor anchor, IReadOnlyList<ReceiptRecord> leaves, string? account)
    {
        var hashes = leaves.Select(l =>
        {
            var s = SignedUsageReceipt.FromJson(l.SignedReceiptJson);
            return ReceiptMerkle.Leaf(s.Receipt.ToCanonicalBytes(), s.Signature);
        }).ToList();
        var index = record.LeafIndex ?? throw new InvalidOperationException($"Receipt {record.RequestId} is anchored without a leaf index.");
        var proof = new JsonArray();
        foreach (var step in ReceiptMerkle.Proof(hashes, index))
        {
            proof.Add(new JsonObject { ["side"] = step.SiblingOnLeft ? "left" : "right", ["hash"] = Convert.ToHexStringLower(step.Sibling) });
        }

        return new JsonObject
        {
            ["root"] = anchor.RootHex,
            ["leaf_index"] = index,
            ["leaf_count"] = anchor.LeafCount,
            ["proof"] = proof,
            ["transaction"] = anchor.TransactionHash is null ? null : new JsonObject
            {
                ["account"] = account,
                ["hash"] = anchor.TransactionHash,
                ["lt"] = anchor.TransactionLt?.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["fee_nanotons"] = anchor.FeeNanotons,
            },
            ["message_hash"] = anchor.MessageHash,
        };
    }
}
