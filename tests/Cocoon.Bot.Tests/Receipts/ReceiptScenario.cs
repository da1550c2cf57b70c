using System.Text.Json.Nodes;
using Cocoon.Bot.Receipts;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Receipts;

namespace Cocoon.Bot.Tests.Receipts;

/// <summary>
/// What the receipt checks start from: a real worker that answered two requests of one payer, and the two receipts
/// anchored as the anchoring period would (the tree and the stored leaves; no chain here).
/// </summary>
internal static class ReceiptScenario
{
    /// <summary>
    /// Starts <paramref name="stack"/> with a worker, asks it two things and anchors the receipts; returns the first
    /// request and its answer, what was anchored, the tree's leaves and root, and the first request's stored receipt
    /// with its document as GET /v1/receipts/{id} returns it (with the inclusion proof).
    /// </summary>
    public static async Task<(DispatchRequest First, string Answer, IReadOnlyList<ReceiptRecord> Anchored, List<byte[]> Leaves, byte[] Root, ReceiptRecord Record, JsonObject Document)> AnchoredAsync(
        DispatchNetwork stack, CancellationToken cancellationToken)
    {
        await stack.StartAsync(cancellationToken);
        await stack.StartWorkerAsync(cancellationToken);
        var payer = await stack.FundedPayerAsync(1_000_000_000, cancellationToken);
        var first = DispatchNetwork.Request(payer, "Once upon a time", 12);
        var (answer, _) = await stack.AskAsync(first, cancellationToken);
        await stack.AskAsync(DispatchNetwork.Request(payer, "The cat", 8), cancellationToken);

        var store = stack.Gateway.Services.GetRequiredService<ReceiptStore>();
        var records = await store.UnanchoredAsync(10, cancellationToken);
        var leaves = records.Select(r => ReceiptMerkle.Leaf(SignedUsageReceipt.FromJson(r.SignedReceiptJson))).ToList();
        var root = ReceiptMerkle.Root(leaves);
        await store.AddAnchorAsync(new ReceiptAnchor { RootHex = Convert.ToHexStringLower(root), LeafCount = leaves.Count }, [.. records.Select(r => r.RequestId)], cancellationToken);
        var (record, anchor) = (await store.FindAsync(first.RequestId, first.Payer.Value, cancellationToken))!.Value;
        var document = ReceiptDocument.Build(record, anchor, await store.LeavesAsync(anchor!.Id, cancellationToken));
        return (first, answer, records, leaves, root, record, document);
    }

    /// <summary><paramref name="record"/>'s receipt signed again by a key that is not in the attested document, as a document without a proof.</summary>
    public static JsonObject ForgedDocument(ReceiptRecord record)
    {
        using var stranger = WorkerIdentity.Create("stranger");
        var forged = SignedUsageReceipt.FromJson(record.SignedReceiptJson).Receipt.Sign(stranger);
        return ReceiptDocument.Build(new ReceiptRecord
        {
            RequestId = record.RequestId,
            Payer = record.Payer,
            WorkerId = record.WorkerId,
            SignedReceiptJson = forged.ToJson(),
            AttestationJson = record.AttestationJson,
        }, null, null);
    }
}
