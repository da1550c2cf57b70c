using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.Deposits;
using Cocoon.Ledger.Tests.LocalChain;
using Cocoon.Ledger.Ton;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Cocoon.Ledger.Tests.Chain;

public sealed class DepositTests(LocalChainFixture chain) : IClassFixture<LocalChainFixture>
{
    [Fact]
    public async Task Invoices_are_credited_once_even_when_the_watcher_crashes_in_the_middle_of_a_page()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var users = Enumerable.Range(0, 4).Select(_ => AccountId.User(Random.Shared.NextInt64(1, long.MaxValue))).ToArray();
        DepositInvoice[] invoices;
        await using (var scope = host.Restart())
        {
            var create = scope.ServiceProvider.GetRequiredService<DepositInvoices>();
            invoices = [
                await create.CreateAsync(users[0], 1_000_000_000, host.Ct),
                await create.CreateAsync(users[1], 2_000_000_000, host.Ct),
                await create.CreateAsync(users[2], 3_000_000_000, host.Ct),
                await create.CreateAsync(users[3], 500_000_000, host.Ct),
            ];
        }

        // Exact, a stranger's transfer without a comment, two parts of one invoice, an overpayment, an unknown comment.
        await chain.Chain.PayAsync(1_000_000_000, invoices[0].Comment, "u0", host.Ct);
        await chain.Chain.PayAsync(42_000_000, null, "stranger", host.Ct);
        await chain.Chain.PayAsync(1_500_000_000, invoices[1].Comment, "u1", host.Ct);
        await chain.Chain.PayAsync(3_700_000_000, invoices[2].Comment, "u2", host.Ct);
        await chain.Chain.PayAsync(500_000_000, invoices[1].Comment, "u1", host.Ct);
        await chain.Chain.PayAsync(100_000_000, "cocoon-notaninvoice", "u3", host.Ct);
        await chain.Chain.PayAsync(200_000_000, invoices[3].Comment, "u3", host.Ct);

        // First run: the ledger commits the third credit and then the process "dies" before the receipt and cursor are saved.
        await using (var scope = host.Restart())
        {
            var crashing = new CrashAfterCredit(host.Ledger, crashOnCall: 3);
            var processor = new DepositProcessor(
                scope.ServiceProvider.GetRequiredService<ChainDbContext>(), crashing, host.Client, host.Wallet,
                scope.ServiceProvider.GetRequiredService<IOptions<TonOptions>>(), TimeProvider.System, NullLogger<DepositProcessor>.Instance);
            await Assert.ThrowsAsync<SimulatedCrashException>(() => processor.PollAsync(host.Ct));
        }

        // Restarted watcher: picks up from the persisted cursor, re-runs the credit that crashed (a no-op) and finishes.
        await using (var scope = host.Restart())
        {
            Assert.True(await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(host.Ct) > 0);
        }

        await using (var scope = host.Restart())
        {
            Assert.Equal(0, await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(host.Ct));
            var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
            var stored = await db.Invoices.AsNoTracking().ToDictionaryAsync(i => i.Id, host.Ct);
            Assert.Equal(InvoiceStatus.Paid, stored[invoices[0].Id].Status);
            Assert.Equal(InvoiceStatus.Paid, stored[invoices[1].Id].Status);
            Assert.Equal(2_000_000_000, stored[invoices[1].Id].AmountReceived);
            Assert.Equal(InvoiceStatus.Overpaid, stored[invoices[2].Id].Status);
            Assert.Equal(InvoiceStatus.PartiallyPaid, stored[invoices[3].Id].Status);
            Assert.Equal(1, await db.Receipts.CountAsync(r => r.Outcome == DepositOutcome.Unmatched && r.Comment == "cocoon-notaninvoice", host.Ct));
            Assert.Equal(1, await db.Receipts.CountAsync(r => r.Outcome == DepositOutcome.Unmatched && r.Comment == null && r.Amount == 42_000_000, host.Ct));
            Assert.Equal(5, await db.Receipts.CountAsync(r => r.Outcome == DepositOutcome.Credited, host.Ct));
        }

        Assert.Equal(1_000_000_000, await host.Ledger.GetBalanceAsync(users[0], host.Ct));
        Assert.Equal(2_000_000_000, await host.Ledger.GetBalanceAsync(users[1], host.Ct));
        Assert.Equal(3_700_000_000, await host.Ledger.GetBalanceAsync(users[2], host.Ct));
        Assert.Equal(200_000_000, await host.Ledger.GetBalanceAsync(users[3], host.Ct));
    }

    [Fact]
    public async Task A_later_payment_is_picked_up_from_the_cursor_and_nothing_is_repeated()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var user = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        await using var scope = host.Restart();
        var invoice = await scope.ServiceProvider.GetRequiredService<DepositInvoices>().CreateAsync(user, 300_000_000, host.Ct);
        var processor = scope.ServiceProvider.GetRequiredService<DepositProcessor>();
        await processor.PollAsync(host.Ct);
        Assert.Equal(0, await host.Ledger.GetBalanceAsync(user, host.Ct));

        await chain.Chain.PayAsync(300_000_000, invoice.Comment, "later", host.Ct);
        Assert.Equal(1, await processor.PollAsync(host.Ct));
        Assert.Equal(0, await processor.PollAsync(host.Ct));
        Assert.Equal(300_000_000, await host.Ledger.GetBalanceAsync(user, host.Ct));
    }

    [Fact]
    public async Task A_bounced_message_carrying_an_invoice_comment_is_not_credited()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var user = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        await using var scope = host.Restart();
        var invoice = await scope.ServiceProvider.GetRequiredService<DepositInvoices>().CreateAsync(user, 100_000_000, host.Ct);

        // The network wallet sends a bounceable message to an account that does not exist; it comes back bounced.
        var info = await host.Client.GetWalletInformationAsync(host.Wallet.Address, host.Ct);
        var nowhere = new TonAddress(0, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var transfer = host.Wallet.CreateTransfer(info.Seqno!.Value, (uint)DateTimeOffset.UtcNow.AddMinutes(2).ToUnixTimeSeconds(), [(InternalTransfer.WithComment(nowhere, 100_000_000, invoice.Comment, bounce: true), (byte)1)]);
        await host.Client.SendBocAsync(transfer.ToBoc(), host.Ct);

        var recent = await host.Client.GetTransactionsAsync(host.Wallet.Address, info.LastTransactionLt + 1, null, 10, 0, ascending: true, host.Ct);
        Assert.Contains(recent, t => t.InMessage is { Bounced: true });

        await scope.ServiceProvider.GetRequiredService<DepositProcessor>().PollAsync(host.Ct);
        Assert.Equal(0, await host.Ledger.GetBalanceAsync(user, host.Ct));
        var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
        Assert.Equal(InvoiceStatus.Open, (await db.Invoices.AsNoTracking().SingleAsync(i => i.Id == invoice.Id, host.Ct)).Status);
    }

    [Fact]
    public async Task An_aborted_transaction_carrying_an_invoice_comment_is_not_credited()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var user = AccountId.User(Random.Shared.NextInt64(1, long.MaxValue));
        await using var scope = host.Restart();
        var invoice = await scope.ServiceProvider.GetRequiredService<DepositInvoices>().CreateAsync(user, 100_000_000, host.Ct);
        var processor = scope.ServiceProvider.GetRequiredService<DepositProcessor>();
        await processor.PollAsync(host.Ct);

        // 30,000 nanotons is below the basechain's flat gas price (40,000), so the wallet cannot buy gas: the real
        // TVM skips the compute phase (no-gas) and the transaction is aborted, though it carries the invoice comment.
        var aborted = await chain.Chain.PayAsync(30_000, invoice.Comment, "aborts", host.Ct);
        var seen = await host.Client.GetTransactionsAsync(host.Wallet.Address, aborted.Lt, aborted.Lt, 1, 0, ascending: true, host.Ct);
        var tx = Assert.Single(seen);
        Assert.Equal(aborted.TransactionHash, tx.Hash);
        Assert.Equal(true, tx.Aborted);
        Assert.Equal(invoice.Comment, tx.InMessage?.Comment);
        Assert.Equal(30_000, tx.InMessage?.Value);

        // Then a normal payment with the same comment, so the processor is shown to read this account and comment.
        await chain.Chain.PayAsync(100_000_000, invoice.Comment, "pays", host.Ct);
        Assert.Equal(2, await processor.PollAsync(host.Ct));

        Assert.Equal(100_000_000, await host.Ledger.GetBalanceAsync(user, host.Ct));
        var db = scope.ServiceProvider.GetRequiredService<ChainDbContext>();
        var stored = await db.Invoices.AsNoTracking().SingleAsync(i => i.Id == invoice.Id, host.Ct);
        Assert.Equal(InvoiceStatus.Paid, stored.Status);
        Assert.Equal(100_000_000, stored.AmountReceived);
        Assert.False(await db.Receipts.AnyAsync(r => r.TransactionHash == aborted.TransactionHash, host.Ct));
    }

    [Fact]
    public async Task The_top_up_request_pays_the_deposit_address_with_the_invoice_comment()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        await using var scope = host.Restart();
        var invoices = scope.ServiceProvider.GetRequiredService<DepositInvoices>();
        var invoice = await invoices.CreateAsync(AccountId.User(7), 1_230_000_000, host.Ct);
        var request = invoices.TopUpRequest(invoice, TimeSpan.FromMinutes(5));
        var message = Assert.Single(request.Messages);
        Assert.Equal(host.Wallet.Address, TonAddress.Parse(message.Address));
        Assert.Equal("1230000000", message.Amount);
        Assert.Equal(invoice.Comment, TonMessages.TryReadComment(Cell.FromBocBase64(message.Payload!)));
        var json = System.Text.Json.JsonSerializer.Serialize(request);
        Assert.Contains("\"validUntil\":", json, StringComparison.Ordinal);
        Assert.Contains("\"payload\":", json, StringComparison.Ordinal);
        Assert.StartsWith("ton://transfer/", invoices.TransferLink(invoice), StringComparison.Ordinal);
    }

    private sealed class SimulatedCrashException() : Exception("simulated crash after the ledger committed");

    /// <summary>Fault injection only: the real ledger commits, then the caller sees the process die.</summary>
    private sealed class CrashAfterCredit(ILedger inner, int crashOnCall) : ILedger
    {
        private int _calls;

        public async Task CreditAsync(AccountId account, long amount, AccountId source, string idempotencyKey, CancellationToken cancellationToken)
        {
            await inner.CreditAsync(account, amount, source, idempotencyKey, cancellationToken);
            if (++_calls == crashOnCall)
            {
                throw new SimulatedCrashException();
            }
        }

        public Task<Hold> HoldAsync(AccountId payer, long amount, string idempotencyKey, CancellationToken cancellationToken) => inner.HoldAsync(payer, amount, idempotencyKey, cancellationToken);

        public Task<long> SettleAsync(Guid holdId, IReadOnlyList<Payee> payees, CancellationToken cancellationToken) => inner.SettleAsync(holdId, payees, cancellationToken);

        public Task ReleaseAsync(Guid holdId, CancellationToken cancellationToken) => inner.ReleaseAsync(holdId, cancellationToken);

        public Task<long> GetBalanceAsync(AccountId account, CancellationToken cancellationToken) => inner.GetBalanceAsync(account, cancellationToken);
    }
}
