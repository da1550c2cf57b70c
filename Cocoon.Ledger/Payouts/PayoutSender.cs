using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Payouts;

/// <summary>
/// Pays providers from the network wallet, many payouts per signed v5r1 transfer, so that no crash pays twice or
/// loses a payout. We are the wallet's only signer, so its seqno tells what happened to a stored batch:
/// <list type="bullet">
/// <item>seqno still equals the batch's (or is lower, on a reset local chain): it has not executed. Before valid_until the same bytes are (re)sent, which
/// is harmless because only one message per seqno can ever execute; after it the batch is dead and its payouts go back
/// into the queue.</item>
/// <item>seqno moved past it: it executed (or is executing). It is never sent again; its transaction is looked up by
/// message hash and each payout is confirmed against the out messages; a payout the wallet skipped (e.g. short of
/// funds) goes back into the queue.</item>
/// </list>
/// A batch is stored, with its payouts marked, before it is sent. One batch is in flight at a time.
/// </summary>
public sealed partial class PayoutSender(
    ChainDbContext db,
    ILedger ledger,
    ToncenterClient chain,
    NetworkWallet wallet,
    IOptions<TonOptions> options,
    TimeProvider clock,
    ILogger<PayoutSender> logger)
{
    /// <summary>Mode 1: the wallet pays the forwarding fees on top, so providers receive the exact amount.</summary>
    private const byte PayFeesSeparately = 1;

    /// <summary>Debits new requests, settles the batch in flight, then signs and sends the next one.</summary>
    public async Task RunOnceAsync(CancellationToken cancellationToken)
    {
        await DebitRequestedAsync(cancellationToken).ConfigureAwait(false);
        if (!await SettleInFlightAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        var batch = await PrepareBatchAsync(cancellationToken).ConfigureAwait(false);
        if (batch is not null)
        {
            await SendAsync(batch, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Moves each new request's amount from the provider to the hot wallet account (idempotent per payout).</summary>
    internal async Task DebitRequestedAsync(CancellationToken cancellationToken)
    {
        var requested = await db.PayoutRequests.Where(r => r.Status == PayoutStatus.Requested).OrderBy(r => r.CreatedAt).Take(1000)
            .ToListAsync(cancellationToken).ConfigureAwait(false);
        foreach (var request in requested)
        {
            try
            {
                await ledger.CreditAsync(AccountId.TonHotWallet, request.Amount, new AccountId(request.Provider), "ton-payout:" + request.Id, cancellationToken).ConfigureAwait(false);
                request.Status = PayoutStatus.Debited;
            }
            catch (InsufficientFundsException e)
            {
                request.Status = PayoutStatus.Rejected;
                request.Error = e.Message;
            }

            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Returns true when no batch is in flight any more (a new one may be signed).</summary>
    internal async Task<bool> SettleInFlightAsync(CancellationToken cancellationToken)
    {
        var batch = await db.PayoutBatches.Where(b => b.Status == BatchStatus.Prepared || b.Status == BatchStatus.Sent)
            .OrderBy(b => b.Seqno).FirstOrDefaultAsync(cancellationToken).ConfigureAwait(false);
        if (batch is null)
        {
            return true;
        }

        var info = await chain.GetWalletInformationAsync(TonAddress.Parse(batch.Wallet), cancellationToken).ConfigureAwait(false);
        if (info.Seqno is not { } seqno || seqno <= batch.Seqno)
        {
            var now = clock.GetUtcNow().ToUnixTimeSeconds();
            if (info.Seqno == batch.Seqno && now <= batch.ValidUntil)
            {
                await SendAsync(batch, cancellationToken).ConfigureAwait(false);
                return false;
            }

            // The chain's clock may lag ours a little; give it a margin before declaring the message dead.
            if (now <= batch.ValidUntil + 30)
            {
                return false;
            }

            if (info.Seqno != batch.Seqno)
            {
                // Lower than when we signed: only a reset chain (the local one restarted) does that.
                LogSeqnoBehind(logger, batch.Id, batch.Seqno, info.Seqno is { } s ? s : -1);
            }

            await RequeueAsync(batch, BatchStatus.Expired, null, cancellationToken).ConfigureAwait(false);
            LogExpired(logger, batch.Id, batch.Seqno);
            return true;
        }

        var tx = await FindTransactionAsync(batch, cancellationToken).ConfigureAwait(false);
        if (tx is null)
        {
            // Executed (the seqno moved) but not indexed yet: wait. Never re-send.
            return false;
        }

        await ConfirmAsync(batch, tx, cancellationToken).ConfigureAwait(false);
        return true;
    }

    internal async Task<PayoutBatch?> PrepareBatchAsync(CancellationToken cancellationToken)
    {
        var due = await db.PayoutRequests.Where(r => r.Status == PayoutStatus.Debited).OrderBy(r => r.CreatedAt)
            .Take(WalletV5R1.MaxMessages).ToListAsync(cancellationToken).ConfigureAwait(false);
        if (due.Count == 0)
        {
            return null;
        }

        var info = await chain.GetWalletInformationAsync(wallet.Address, cancellationToken).ConfigureAwait(false);
        if (info.Seqno is not { } seqno)
        {
            throw new InvalidOperationException($"The network wallet {wallet.Address.ToRaw()} is not deployed; fund and deploy it before paying out.");
        }

        var validUntil = (uint)(clock.GetUtcNow() + options.Value.PayoutValidity).ToUnixTimeSeconds();
        var messages = due.Select(r => (InternalTransfer.WithComment(TonAddress.Parse(r.Destination), r.Amount, "cocoon payout " + r.Id.ToString("N"), bounce: false), PayFeesSeparately)).ToList();
        var message = wallet.CreateTransfer(seqno, validUntil, messages);
        var batch = new PayoutBatch
        {
            Id = Guid.NewGuid(),
            Wallet = wallet.Address.ToRaw(),
            Seqno = seqno,
            ValidUntil = validUntil,
            Boc = message.ToBoc(),
            MessageHash = Convert.ToBase64String(message.Hash),
            WalletLtBefore = info.LastTransactionLt,
            Status = BatchStatus.Prepared,
            CreatedAt = clock.GetUtcNow(),
        };
        db.PayoutBatches.Add(batch);
        foreach (var r in due)
        {
            r.Status = PayoutStatus.Batched;
            r.BatchId = batch.Id;
        }

        // Stored before it is sent: after a crash the chain is checked for exactly these bytes.
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        LogPrepared(logger, batch.Id, due.Count, due.Sum(r => r.Amount), seqno);
        return batch;
    }

    internal async Task SendAsync(PayoutBatch batch, CancellationToken cancellationToken)
    {
        try
        {
            await chain.SendBocAsync(batch.Boc, cancellationToken).ConfigureAwait(false);
        }
        catch (ToncenterException e)
        {
            // Rejected now (e.g. executed a moment ago, or the node is behind): the next round reads the seqno and decides.
            LogSendRejected(logger, e, batch.Id);
            return;
        }

        if (batch.Status == BatchStatus.Prepared)
        {
            batch.Status = BatchStatus.Sent;
            await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<ChainTransaction?> FindTransactionAsync(PayoutBatch batch, CancellationToken cancellationToken)
    {
        const int PageSize = 50;
        for (var offset = 0; ; offset += PageSize)
        {
            var page = await chain.GetTransactionsAsync(TonAddress.Parse(batch.Wallet), batch.WalletLtBefore + 1, null, PageSize, offset, ascending: true, cancellationToken).ConfigureAwait(false);
            var tx = page.FirstOrDefault(t => t.InMessage is { Source: null } m && m.Hash == batch.MessageHash);
            if (tx is not null || page.Count < PageSize)
            {
                return tx;
            }
        }
    }

    private async Task ConfirmAsync(PayoutBatch batch, ChainTransaction tx, CancellationToken cancellationToken)
    {
        var outs = tx.OutMessages.ToList();
        var requests = await db.PayoutRequests.Where(r => r.BatchId == batch.Id).ToListAsync(cancellationToken).ConfigureAwait(false);
        var now = clock.GetUtcNow();
        foreach (var r in requests)
        {
            var destination = TonAddress.Parse(r.Destination);
            var sent = outs.FindIndex(m => m.Destination == destination && m.Value == r.Amount);
            if (sent >= 0)
            {
                outs.RemoveAt(sent);
                r.Status = PayoutStatus.Confirmed;
                r.ConfirmedAt = now;
            }
            else
            {
                // The wallet skipped this message (mode +2 ignores errors such as a short balance): it was not paid,
                // and this seqno is spent, so it can safely go into a new batch.
                r.Status = PayoutStatus.Debited;
                r.BatchId = null;
                LogSkipped(logger, r.Id, batch.Id);
            }
        }

        batch.Status = BatchStatus.Confirmed;
        batch.TransactionHash = tx.Hash;
        batch.ConfirmedAt = now;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        LogConfirmed(logger, batch.Id, tx.Hash, requests.Count(r => r.Status == PayoutStatus.Confirmed));
    }

    private async Task RequeueAsync(PayoutBatch batch, BatchStatus status, string? txHash, CancellationToken cancellationToken)
    {
        foreach (var r in await db.PayoutRequests.Where(r => r.BatchId == batch.Id).ToListAsync(cancellationToken).ConfigureAwait(false))
        {
            r.Status = PayoutStatus.Debited;
            r.BatchId = null;
        }

        batch.Status = status;
        batch.TransactionHash = txHash;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(EventId = LogEvents.Payouts + 1, Level = LogLevel.Information, Message = "Payout batch {BatchId}: {Count} payouts, {Total} nanotons, seqno {Seqno}, stored")]
    private static partial void LogPrepared(ILogger logger, Guid batchId, int count, long total, long seqno);

    [LoggerMessage(EventId = LogEvents.Payouts + 2, Level = LogLevel.Information, Message = "Payout batch {BatchId} confirmed in transaction {TxHash}; {Count} payouts paid")]
    private static partial void LogConfirmed(ILogger logger, Guid batchId, string txHash, int count);

    [LoggerMessage(EventId = LogEvents.Payouts + 3, Level = LogLevel.Warning, Message = "Payout batch {BatchId} (seqno {Seqno}) expired unexecuted; its payouts are queued again")]
    private static partial void LogExpired(ILogger logger, Guid batchId, long seqno);

    [LoggerMessage(EventId = LogEvents.Payouts + 4, Level = LogLevel.Warning, Message = "Sending payout batch {BatchId} was rejected; the wallet seqno decides next round")]
    private static partial void LogSendRejected(ILogger logger, Exception exception, Guid batchId);

    [LoggerMessage(EventId = LogEvents.Payouts + 5, Level = LogLevel.Warning, Message = "Payout {PayoutId} was skipped by the wallet in batch {BatchId}; queued again")]
    private static partial void LogSkipped(ILogger logger, Guid payoutId, Guid batchId);

    [LoggerMessage(EventId = LogEvents.Payouts + 6, Level = LogLevel.Warning, Message = "Payout batch {BatchId} has seqno {BatchSeqno} but its wallet is at {WalletSeqno} (-1: not deployed): the chain was reset")]
    private static partial void LogSeqnoBehind(ILogger logger, Guid batchId, long batchSeqno, long walletSeqno);
}
