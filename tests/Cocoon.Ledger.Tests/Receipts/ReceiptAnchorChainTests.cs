using System.Security.Cryptography;
using Cocoon.Ledger.Receipts;
using Cocoon.Ledger.Tests.Chain;
using Cocoon.Ledger.Tests.LocalChain;
using Cocoon.Ledger.Ton;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Cocoon.Ledger.Tests.Receipts;

public sealed class ReceiptAnchorChainTests(LocalChainFixture chain, ITestOutputHelper output) : IClassFixture<LocalChainFixture>
{
    [Fact]
    public async Task A_root_is_committed_from_the_network_wallet_and_read_back_from_the_transaction_body()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var store = host.Services.GetRequiredService<ReceiptStore>();
        var payer = "api:" + Guid.NewGuid().ToString("N");
        var ids = new[] { "req-" + Guid.NewGuid().ToString("N"), "req-" + Guid.NewGuid().ToString("N") };
        foreach (var (id, i) in ids.Select((id, i) => (id, i)))
        {
            await store.SaveAsync(new ReceiptRecord { RequestId = id, Payer = payer, WorkerId = "w", SignedReceiptJson = "{}", AttestationJson = "", CreatedAtMs = i }, host.Ct);
        }

        var root = RandomNumberGenerator.GetBytes(32);
        var before = await host.Client.GetAddressBalanceAsync(host.Wallet.Address, host.Ct);
        ReceiptAnchor anchor;
        await using (var scope = host.Restart())
        {
            var committer = scope.ServiceProvider.GetRequiredService<ReceiptRootCommitter>();
            anchor = await committer.CommitAsync(root, ids, host.Ct);
            await committer.SettleAsync(host.Ct);
        }

        var after = await host.Client.GetAddressBalanceAsync(host.Wallet.Address, host.Ct);
        var (receipt, stored) = (await store.FindAsync(ids[1], payer, host.Ct))!.Value;
        Assert.Equal(anchor.Id, receipt.AnchorId);
        Assert.Equal(1, receipt.LeafIndex);
        Assert.NotNull(stored);
        Assert.Equal(Convert.ToHexStringLower(root), stored.RootHex);
        Assert.Equal(2, stored.LeafCount);
        Assert.NotNull(stored.TransactionHash);
        Assert.Empty(await store.PendingAnchorsAsync(host.Ct));

        // What a verifier does: the transaction at (account, lt), its out message's body, the root in it.
        var lt = stored.TransactionLt!.Value;
        var txs = await host.Client.GetTransactionsAsync(host.Wallet.Address, lt, lt, 10, 0, ascending: true, host.Ct);
        var tx = Assert.Single(txs, t => t.Hash == stored.TransactionHash);
        var message = Assert.Single(tx.OutMessages);
        Assert.Equal(host.Wallet.Address, message.Destination);
        Assert.Equal(root, ReceiptRootMessage.TryReadRoot(message.BodyBoc));
        Assert.Null(ReceiptRootMessage.TryReadRoot(TonMessages.Comment("not a root")));

        // The fee recorded is the wallet's cost; the balance also pays the storage of the self-delivery, so it is at most that.
        Assert.True(stored.FeeNanotons > 0);
        Assert.InRange(before - after, stored.FeeNanotons!.Value, stored.FeeNanotons.Value + 1_000_000);
        output.WriteLine($"anchor fee per root: recorded {stored.FeeNanotons} nanotons, wallet balance change {before - after} nanotons");
    }

    [Fact]
    public async Task An_anchor_whose_message_was_never_sent_is_signed_again_after_it_expires_and_committed_once()
    {
        await using var host = await TonTestHost.StartAsync(chain);
        var store = host.Services.GetRequiredService<ReceiptStore>();
        var root = RandomNumberGenerator.GetBytes(32);

        // Stored with a message signed ten minutes ago that never reached the chain (the process died before sending).
        var past = new ManualClock(DateTimeOffset.UtcNow.AddMinutes(-10));
        await using (var scope = host.Restart())
        {
            var sp = scope.ServiceProvider;
            var stale = new ReceiptRootCommitter(store, host.Client, host.Wallet, past, Microsoft.Extensions.Logging.Abstractions.NullLogger<ReceiptRootCommitter>.Instance);
            await stale.CommitAsync(root, [], host.Ct);
        }

        await using (var scope = host.Restart())
        {
            var committer = scope.ServiceProvider.GetRequiredService<ReceiptRootCommitter>();
            await committer.SettleAsync(host.Ct);
            await committer.SettleAsync(host.Ct);
        }

        var pending = await store.PendingAnchorsAsync(host.Ct);
        Assert.DoesNotContain(pending, a => a.RootHex == Convert.ToHexStringLower(root));
    }
}
