using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Deposits;

/// <summary>
/// Reads the deposit address's transactions in logical-time order from a persisted cursor and credits matching
/// transfers. Policy:
/// <list type="bullet">
/// <item>Only incoming internal messages from a real source count; bounced messages, aborted transactions, external
/// messages and zero values are skipped.</item>
/// <item>The comment must be an invoice's comment. Whatever arrives is credited to that invoice's account: a smaller
/// amount marks it PartiallyPaid (the user can pay the rest with the same comment), a larger one Overpaid. Nothing is
/// bounced back, because a refund costs fees and the user can spend the balance.</item>
/// <item>Transfers without a known comment are recorded as Unmatched (for an operator to resolve), not credited.</item>
/// <item>A slash's proceeds (a SlashPaid message from the stake contract, Ton:StakeContract) are recorded as Slash with
/// the slash's reason hash in place of a comment, not credited: the gateway's slasher books them when it sees the slash
/// applied (the user's refund and the network's share, keyed by the reason hash).</item>
/// <item>Exactly once: the ledger credit is idempotent on <c>ton-deposit:&lt;tx hash&gt;</c>; the receipt, the invoice
/// update and the cursor are then written in one transaction. A crash between the two re-runs the credit, which is a no-op.</item>
/// </list>
/// </summary>
public sealed partial class DepositProcessor(
    ChainDbContext db,
    ILedger ledger,
    ToncenterClient chain,
    NetworkWallet wallet,
    IOptions<TonOptions> options,
    TimeProvider clock,
    ILogger<DepositProcessor> logger)
{
    /// <summary>Handles every transaction after the cursor; returns how many were handled.</summary>
    public async Task<int> PollAsync(CancellationToken cancellationToken)
    {
        var account = wallet.Address;
        var key = account.ToRaw();
        var cursor = await db.Cursors.FirstOrDefaultAsync(c => c.Account == key, cancellationToken).ConfigureAwait(false);
        if (cursor is null)
        {
            cursor = new ChainCursor { Account = key, Lt = 0 };
            db.Cursors.Add(cursor);
        }

        var handled = 0;
        while (true)
        {
            var page = await chain.GetTransactionsAsync(account, cursor.Lt + 1, null, options.Value.DepositPageSize, 0, ascending: true, cancellationToken).ConfigureAwait(false);
            foreach (var tx in page.OrderBy(t => t.Lt))
            {
                if (tx.Lt <= cursor.Lt)
                {
                    continue;
                }

                await HandleAsync(tx, cursor, cancellationToken).ConfigureAwait(false);
                handled++;
            }

            if (page.Count < options.Value.DepositPageSize)
            {
                return handled;
            }
        }
    }

    private async Task HandleAsync(ChainTransaction tx, ChainCursor cursor, CancellationToken cancellationToken)
    {
        var msg = tx.InMessage;
        var relevant = msg is { Source: not null, Bounced: false, Value: > 0 } && tx.Aborted != true;
        var already = relevant && await db.Receipts.AnyAsync(r => r.TransactionHash == tx.Hash, cancellationToken).ConfigureAwait(false);
        if (relevant && !already)
        {
            var invoice = msg!.Comment is { Length: > 0 } comment
                ? await db.Invoices.FirstOrDefaultAsync(i => i.Comment == comment, cancellationToken).ConfigureAwait(false)
                : null;
            var receipt = new DepositReceipt
            {
                TransactionHash = tx.Hash,
                Lt = tx.Lt,
                Source = msg.Source!.ToRaw(),
                Amount = msg.Value,
                Comment = msg.Comment is { Length: > 128 } c ? c[..128] : msg.Comment,
                SeenAt = clock.GetUtcNow(),
            };
            if (SlashReason(msg) is { } reason)
            {
                receipt.Outcome = DepositOutcome.Slash;
                receipt.Comment = reason;
                LogSlashProceeds(logger, tx.Hash, msg.Value, reason);
            }
            else if (invoice is null)
            {
                receipt.Outcome = DepositOutcome.Unmatched;
                LogUnmatched(logger, tx.Hash, msg.Value);
            }
            else
            {
                await ledger.CreditAsync(new AccountId(invoice.Account), msg.Value, AccountId.TonHotWallet, "ton-deposit:" + tx.Hash, cancellationToken).ConfigureAwait(false);
                receipt.Outcome = DepositOutcome.Credited;
                receipt.InvoiceId = invoice.Id;
                receipt.Account = invoice.Account;
                invoice.AmountReceived += msg.Value;
                invoice.Status = invoice.AmountReceived < invoice.AmountDue ? InvoiceStatus.PartiallyPaid
                    : invoice.AmountReceived == invoice.AmountDue ? InvoiceStatus.Paid
                    : InvoiceStatus.Overpaid;
                invoice.PaidAt ??= invoice.Status is InvoiceStatus.Paid or InvoiceStatus.Overpaid ? clock.GetUtcNow() : null;
                LogCredited(logger, invoice.Account, msg.Value, tx.Hash, invoice.Status);
            }

            db.Receipts.Add(receipt);
        }

        // The cursor moves in the same SaveChanges as the receipt and the invoice: all or nothing.
        cursor.Lt = tx.Lt;
        cursor.TransactionHash = tx.Hash;
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The reason hash when the message is a SlashPaid from the configured stake contract; null for anything else.</summary>
    private string? SlashReason(ChainMessage message)
    {
        if (options.Value.StakeContract is not { Length: > 0 } text || !TonAddress.TryParse(text, out var contract)
            || message.Source != contract || message.BodyBoc is not { } boc)
        {
            return null;
        }

        try
        {
            return Stake.StakeContract.SlashPaidReason(Cell.FromBocBase64(boc));
        }
        catch (TonFormatException)
        {
            return null;
        }
    }

    [LoggerMessage(EventId = LogEvents.Deposits + 3, Level = LogLevel.Information, Message = "Transfer {TxHash} of {Amount} nanotons is the proceeds of slash {ReasonHash}; booked by the slash")]
    private static partial void LogSlashProceeds(ILogger logger, string txHash, long amount, string reasonHash);

    [LoggerMessage(EventId = LogEvents.Deposits + 1, Level = LogLevel.Information, Message = "Credited {Account} with {Amount} nanotons from transaction {TxHash}; invoice {Status}")]
    private static partial void LogCredited(ILogger logger, string account, long amount, string txHash, InvoiceStatus status);

    [LoggerMessage(EventId = LogEvents.Deposits + 2, Level = LogLevel.Warning, Message = "Transfer {TxHash} of {Amount} nanotons has no known invoice comment; recorded as unmatched")]
    private static partial void LogUnmatched(ILogger logger, string txHash, long amount);
}
