using System.Security.Cryptography;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;

namespace Cocoon.Ledger.Deposits;

/// <summary>
/// Top-up invoices. Each carries a unique comment the user's wallet puts on the transfer; the deposit watcher
/// credits whatever arrives with that comment to the invoice's account (see <see cref="DepositProcessor"/>).
/// </summary>
public sealed class DepositInvoices(ChainDbContext db, NetworkWallet wallet, TimeProvider clock)
{
    private const string Alphabet = "abcdefghijkmnpqrstuvwxyz23456789";

    public async Task<DepositInvoice> CreateAsync(AccountId account, long amountDue, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(amountDue);
        var invoice = new DepositInvoice
        {
            Id = Guid.NewGuid(),
            Comment = NewComment(),
            Account = account.Value,
            AmountDue = amountDue,
            Status = InvoiceStatus.Open,
            CreatedAt = clock.GetUtcNow(),
        };
        db.Invoices.Add(invoice);
        await db.SaveChangesAsync(cancellationToken).ConfigureAwait(false);
        return invoice;
    }

    public Task<DepositInvoice?> FindAsync(Guid id, CancellationToken cancellationToken) =>
        db.Invoices.AsNoTracking().FirstOrDefaultAsync(i => i.Id == id, cancellationToken);

    /// <summary>The TON Connect <c>sendTransaction</c> request that pays this invoice from the Mini App.</summary>
    public TonConnectTransaction TopUpRequest(DepositInvoice invoice, TimeSpan validFor)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        return TonConnect.TopUp(wallet.Address, invoice.AmountDue, invoice.Comment, clock.GetUtcNow() + validFor, wallet.Testnet);
    }

    /// <summary>A ton:// link for wallets without TON Connect (amount in nanotons, comment as text).</summary>
    public string TransferLink(DepositInvoice invoice)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        return $"ton://transfer/{wallet.DepositAddressText}?amount={invoice.AmountDue}&text={Uri.EscapeDataString(invoice.Comment)}";
    }

    /// <summary>"cocoon-" and 12 characters from a 32-letter alphabet without look-alikes: 60 random bits.</summary>
    private static string NewComment()
    {
        Span<char> chars = stackalloc char[12];
        for (var i = 0; i < chars.Length; i++)
        {
            chars[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        }

        return "cocoon-" + new string(chars);
    }
}
