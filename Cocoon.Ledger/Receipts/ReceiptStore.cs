using Cocoon.Ledger.Data;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Ledger.Receipts;

/// <summary>
/// The verified receipts and their anchors, in the ledger database (one receipt per request id; a replayed insert of
/// the same id is ignored). Reads by payer only: a receipt is returned to the account that paid for it and nobody else.
/// </summary>
public sealed class ReceiptStore(LedgerDatabase database, Accounts.JournalLedger? ledger = null)
{
    private const string Insert =
        "INSERT INTO \"" + LedgerTables.Receipts + "\" (\"RequestId\", \"Payer\", \"WorkerId\", \"SignedReceiptJson\", \"AttestationJson\", \"ChargedNanotons\", \"CreatedAtMs\") " +
        "VALUES ({0}, {1}, {2}, {3}, {4}, {5}, {6}) ON CONFLICT (\"RequestId\") DO NOTHING";

    /// <summary>
    /// Stores the receipt unless its request already has one. Every answer stores one, so it is one statement (SQLite
    /// and PostgreSQL alike) rather than a lookup, a tracked entity and an insert.
    /// </summary>
    public async Task SaveAsync(ReceiptRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (ledger is not null && ledger.Database == database)
        {
            // The same statement inside the ledger writer's next group commit (every answer stores one).
            await ledger.SaveReceiptAsync(record, cancellationToken).ConfigureAwait(false);
            return;
        }

        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        // A constant statement: every value is a parameter.
        await db.Database.ExecuteSqlRawAsync(Insert,
            [record.RequestId, record.Payer, record.WorkerId, record.SignedReceiptJson, record.AttestationJson, record.ChargedNanotons, record.CreatedAtMs],
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The receipt of <paramref name="requestId"/> if <paramref name="payer"/> paid for it, with its anchor once it has one.</summary>
    public async Task<(ReceiptRecord Receipt, ReceiptAnchor? Anchor)?> FindAsync(string requestId, string payer, CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        var receipt = await db.Receipts.AsNoTracking()
            .FirstOrDefaultAsync(r => r.RequestId == requestId && r.Payer == payer, cancellationToken).ConfigureAwait(false);
        if (receipt is null)
        {
            return null;
        }

        var anchor = receipt.AnchorId is { } id
            ? await db.ReceiptAnchors.AsNoTracking().FirstOrDefaultAsync(a => a.Id == id, cancellationToken).ConfigureAwait(false)
            : null;
        return (receipt, anchor);
    }

    /// <summary>Receipts not yet anchored, oldest first (at most <paramref name="limit"/>).</summary>
    public async Task<IReadOnlyList<ReceiptRecord>> UnanchoredAsync(int limit, CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        return await db.Receipts.AsNoTracking().Where(r => r.AnchorId == null)
            .OrderBy(r => r.CreatedAtMs).ThenBy(r => r.RequestId).Take(limit)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The leaves of an anchor in leaf order (for its inclusion proofs).</summary>
    public async Task<IReadOnlyList<ReceiptRecord>> LeavesAsync(long anchorId, CancellationToken cancellationToken)
    {
        await using var db = database.CreateContext();
        return await db.Receipts.AsNoTracking().Where(r => r.AnchorId == anchorId)
            .OrderBy(r => r.LeafIndex).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stores the anchor and numbers its receipts as leaves, in one transaction.</summary>
    public async Task<ReceiptAnchor> AddAnchorAsync(ReceiptAnchor anchor, IReadOnlyList<string> leafRequestIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(anchor);
        ArgumentNullException.ThrowIfNull(leafRequestIds);
        await using var db = database.CreateContext();
        await using var tx = await db.Database.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        db.ReceiptAnchors.Add(anchor);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        for (var i = 0; i < leafRequestIds.Count; i++)
        {
            var id = leafRequestIds[i];
            var index = i;
            await db.Receipts.Where(r => r.RequestId == id)
                .ExecuteUpdateAsync(u => u.SetProperty(r => r.AnchorId, anchor.Id).SetProperty(r => r.LeafIndex, index), cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return anchor;
    }

    /// <summary>Anchors whose root is not yet seen on chain, oldest first.</summary>
    public async Task<IReadOnlyList<ReceiptAnchor>> PendingAnchorsAsync(CancellationToken cancellationToken)
    {
        await database.MigrateAsync(cancellationToken).ConfigureAwait(false);
        await using var db = database.CreateContext();
        return await db.ReceiptAnchors.AsNoTracking().Where(a => a.TransactionHash == null)
            .OrderBy(a => a.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
    }

    public async Task UpdateAnchorAsync(ReceiptAnchor anchor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(anchor);
        await using var db = database.CreateContext();
        db.ReceiptAnchors.Update(anchor);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }
}
