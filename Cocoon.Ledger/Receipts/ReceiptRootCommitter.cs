using Cocoon.Ledger.Ton;
using Microsoft.Extensions.Logging;

namespace Cocoon.Ledger.Receipts;

/// <summary>
/// Commits receipts Merkle roots on TON from the network wallet and records, once the chain shows it, the transaction
/// that holds each root and what it cost. Crash-safe like the payouts: an anchor is stored with the hash of its signed
/// message before the message is sent; a later round looks for that message among the wallet's transactions. The
/// message's valid_until is its creation time plus <see cref="Validity"/>, so an anchor whose message never executed
/// (lost, or its seqno taken by a payout signed at the same moment) is re-signed with a fresh seqno once that has
/// passed: a dead message can never execute later, so a root is committed at most once per signed message.
/// </summary>
public sealed partial class ReceiptRootCommitter(
    ReceiptStore store,
    ToncenterClient chain,
    NetworkWallet wallet,
    TimeProvider clock,
    ILogger<ReceiptRootCommitter> logger)
{
    /// <summary>How long a signed root message stays valid.</summary>
    public static readonly TimeSpan Validity = TimeSpan.FromMinutes(2);

    /// <summary>Mode 1: the wallet pays the forwarding fee on top (the message itself carries no value).</summary>
    private const byte PayFeesSeparately = 1;

    /// <summary>Signs a message carrying <paramref name="root"/>, stores the anchor with its leaves, then sends it.</summary>
    public async Task<ReceiptAnchor> CommitAsync(byte[] root, IReadOnlyList<string> leafRequestIds, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(root);
        ArgumentNullException.ThrowIfNull(leafRequestIds);
        var now = clock.GetUtcNow();
        var (message, _) = await SignAsync(root, now, cancellationToken).ConfigureAwait(false);
        var anchor = new ReceiptAnchor
        {
            RootHex = Convert.ToHexStringLower(root),
            LeafCount = leafRequestIds.Count,
            MessageHash = Convert.ToBase64String(message.Hash),
            CreatedAtMs = now.ToUnixTimeMilliseconds(),
        };

        // Stored before it is sent: after a crash the chain is searched for exactly this message.
        await store.AddAnchorAsync(anchor, leafRequestIds, cancellationToken).ConfigureAwait(false);
        await SendAsync(anchor, message, cancellationToken).ConfigureAwait(false);
        return anchor;
    }

    /// <summary>Records the transaction of every anchor the chain now shows; re-signs the ones whose message died unexecuted.</summary>
    public async Task SettleAsync(CancellationToken cancellationToken)
    {
        foreach (var anchor in await store.PendingAnchorsAsync(cancellationToken).ConfigureAwait(false))
        {
            var tx = await FindAsync(anchor, cancellationToken).ConfigureAwait(false);
            if (tx is not null)
            {
                anchor.TransactionHash = tx.Hash;
                anchor.TransactionLt = tx.Lt;
                anchor.FeeNanotons = tx.TotalFees + tx.OutMessages.Sum(m => m.ForwardFee);
                await store.UpdateAnchorAsync(anchor, cancellationToken).ConfigureAwait(false);
                LogAnchored(logger, anchor.Id, anchor.RootHex, anchor.LeafCount, tx.Hash, anchor.FeeNanotons.Value);
                continue;
            }

            // The chain's clock may lag ours a little: a margin past valid_until before the message is called dead.
            var now = clock.GetUtcNow();
            if (now < DateTimeOffset.FromUnixTimeMilliseconds(anchor.CreatedAtMs) + Validity + TimeSpan.FromSeconds(30))
            {
                continue;
            }

            var (message, _) = await SignAsync(Convert.FromHexString(anchor.RootHex), now, cancellationToken).ConfigureAwait(false);
            anchor.MessageHash = Convert.ToBase64String(message.Hash);
            anchor.CreatedAtMs = now.ToUnixTimeMilliseconds();
            await store.UpdateAnchorAsync(anchor, cancellationToken).ConfigureAwait(false);
            LogResigned(logger, anchor.Id);
            await SendAsync(anchor, message, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<(Cell Message, uint Seqno)> SignAsync(byte[] root, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var info = await chain.GetWalletInformationAsync(wallet.Address, cancellationToken).ConfigureAwait(false);
        if (info.Seqno is not { } seqno)
        {
            throw new InvalidOperationException($"The network wallet {wallet.Address.ToRaw()} is not deployed; fund and deploy it before anchoring receipts.");
        }

        var validUntil = (uint)(now + Validity).ToUnixTimeSeconds();
        var body = ReceiptRootMessage.Body((ulong)now.ToUnixTimeMilliseconds(), root);
        var transfer = new InternalTransfer(wallet.Address, 0, body, Bounce: false);
        return (wallet.CreateTransfer(seqno, validUntil, [(transfer, PayFeesSeparately)]), seqno);
    }

    private async Task SendAsync(ReceiptAnchor anchor, Cell message, CancellationToken cancellationToken)
    {
        try
        {
            await chain.SendBocAsync(message.ToBoc(), cancellationToken).ConfigureAwait(false);
        }
        catch (ToncenterException e)
        {
            // E.g. the seqno was taken a moment ago: the message dies at valid_until and is re-signed then.
            LogSendRejected(logger, e, anchor.Id);
        }
    }

    /// <summary>The wallet's transaction whose inbound external message is the anchor's, searching back to its creation.</summary>
    private async Task<ChainTransaction?> FindAsync(ReceiptAnchor anchor, CancellationToken cancellationToken)
    {
        const int PageSize = 50;
        var since = (anchor.CreatedAtMs / 1000) - 60;
        for (var offset = 0; ; offset += PageSize)
        {
            var page = await chain.GetTransactionsAsync(wallet.Address, null, null, PageSize, offset, ascending: false, cancellationToken).ConfigureAwait(false);
            var tx = page.FirstOrDefault(t => t.InMessage is { Source: null } m && m.Hash == anchor.MessageHash);
            if (tx is not null || page.Count < PageSize || page[^1].Now < since)
            {
                return tx;
            }
        }
    }

    [LoggerMessage(EventId = LogEvents.Receipts + 1, Level = LogLevel.Information, Message = "Receipts anchor {AnchorId}: root {Root} over {Leaves} receipts committed in transaction {TxHash} for {Fee} nanotons")]
    private static partial void LogAnchored(ILogger logger, long anchorId, string root, int leaves, string txHash, long fee);

    [LoggerMessage(EventId = LogEvents.Receipts + 2, Level = LogLevel.Warning, Message = "Receipts anchor {AnchorId}: its message expired unexecuted; signed again with the wallet's current seqno")]
    private static partial void LogResigned(ILogger logger, long anchorId);

    [LoggerMessage(EventId = LogEvents.Receipts + 3, Level = LogLevel.Warning, Message = "Sending receipts anchor {AnchorId} was rejected; it is signed again once its message expires")]
    private static partial void LogSendRejected(ILogger logger, Exception exception, long anchorId);
}
