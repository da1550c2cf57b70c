using System.Diagnostics;
using Cocoon.Ledger.Tests.Ton;
using Cocoon.Ledger.Ton;

namespace Cocoon.Ledger.Tests.LocalChain;

public sealed class LocalChainTests(LocalChainFixture fixture) : IClassFixture<LocalChainFixture>
{
    private static CancellationToken Ct => CancellationToken.None;

    [Fact]
    public async Task A_payment_with_a_comment_shows_in_v2_and_v3_with_the_same_hash()
    {
        var comment = "inv-" + Guid.NewGuid().ToString("N");
        var paid = await fixture.Chain.PayAsync(1_250_000_000, comment, "alice", Ct);

        var v3 = await fixture.Client.GetTransactionsAsync(fixture.Chain.NetworkAddress, paid.Lt, paid.Lt, 10, 0, ascending: true, Ct);
        var tx = Assert.Single(v3);
        Assert.Equal(paid.TransactionHash, tx.Hash);
        Assert.Equal(false, tx.Aborted);
        Assert.Equal(comment, tx.InMessage!.Comment);
        Assert.Equal(1_250_000_000, tx.InMessage.Value);
        Assert.Equal(paid.From, tx.InMessage.Source);
        Assert.Equal(fixture.Chain.NetworkAddress, tx.Account);
        Assert.False(tx.InMessage.Bounced);

        var v2 = await fixture.Client.GetTransactionsV2Async(fixture.Chain.NetworkAddress, 1, paid.Lt, paid.TransactionHash, null, Ct);
        var tx2 = Assert.Single(v2);
        Assert.Equal(tx.Hash, tx2.Hash);
        Assert.Equal(tx.Lt, tx2.Lt);
        Assert.Equal(comment, tx2.InMessage!.Comment);
        Assert.Equal(paid.From, tx2.InMessage.Source);
    }

    [Fact]
    public async Task Pages_in_both_directions_are_ordered_by_lt()
    {
        for (var i = 0; i < 3; i++)
        {
            await fixture.Chain.PayAsync(1_000_000 + i, $"page-{i}", "bob", Ct);
        }

        var asc = await fixture.Client.GetTransactionsAsync(fixture.Chain.NetworkAddress, null, null, 100, 0, ascending: true, Ct);
        Assert.True(asc.Count >= 4);
        Assert.Equal(asc.Select(t => t.Lt).Order(), asc.Select(t => t.Lt));
        var page = await fixture.Client.GetTransactionsAsync(fixture.Chain.NetworkAddress, null, null, 2, 1, ascending: true, Ct);
        Assert.Equal(asc.Skip(1).Take(2).Select(t => t.Hash), page.Select(t => t.Hash));
        var desc = await fixture.Client.GetTransactionsV2Async(fixture.Chain.NetworkAddress, 100, null, null, null, Ct);
        Assert.Equal(asc.Select(t => t.Hash).Reverse(), desc.Select(t => t.Hash));
        var bounded = await fixture.Client.GetTransactionsV2Async(fixture.Chain.NetworkAddress, 100, null, null, asc[^2].Lt, Ct);
        Assert.Equal(asc[^1].Hash, Assert.Single(bounded).Hash);
    }

    [Fact]
    public async Task The_network_wallet_is_a_deployed_v5r1_wallet_whose_key_we_hold()
    {
        var info = await fixture.Client.GetWalletInformationAsync(fixture.Chain.NetworkAddress, Ct);
        Assert.True(info.IsWallet);
        Assert.Equal("active", info.AccountState);
        Assert.NotNull(info.Seqno);
        Assert.True(info.Balance > 100_000_000_000);
        using var key = WalletKey.FromSeedHex(fixture.Chain.WalletSeedHex);
        Assert.Equal(fixture.Chain.NetworkAddress, new WalletV5R1(key.PublicKey).Address);
        Assert.Equal(info.Balance, await fixture.Client.GetAddressBalanceAsync(fixture.Chain.NetworkAddress, Ct));
    }

    [Fact]
    public async Task A_signed_v5r1_transfer_from_csharp_is_executed_by_the_real_wallet_contract()
    {
        using var key = WalletKey.FromSeedHex(fixture.Chain.WalletSeedHex);
        var wallet = new WalletV5R1(key.PublicKey);
        var to = Enumerable.Range(0, 3).Select(_ => new TonAddress(0, System.Security.Cryptography.RandomNumberGenerator.GetBytes(32))).ToArray();
        var seqno = (await fixture.Client.GetWalletInformationAsync(wallet.Address, Ct)).Seqno!.Value;
        var validUntil = (uint)DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds();
        var message = wallet.CreateTransfer(key, seqno, validUntil, [.. to.Select((a, i) => (InternalTransfer.WithComment(a, 10_000_000L * (i + 1), $"p{i}", bounce: false), (byte)1))]);

        await fixture.Client.SendBocAsync(message.ToBoc(), Ct);

        Assert.Equal(seqno + 1, (await fixture.Client.GetWalletInformationAsync(wallet.Address, Ct)).Seqno);
        for (var i = 0; i < to.Length; i++)
        {
            Assert.Equal(10_000_000L * (i + 1), await fixture.Client.GetAddressBalanceAsync(to[i], Ct));
        }

        var txs = await fixture.Client.GetTransactionsAsync(wallet.Address, null, null, 5, 0, ascending: false, Ct);
        var mine = Assert.Single(txs, t => t.InMessage?.Hash == Convert.ToBase64String(message.Hash));
        Assert.Null(mine.InMessage!.Source);
        Assert.Equal(3, mine.OutMessages.Count);

        // The same message again is rejected by the contract (seqno moved on), never executed twice.
        var replay = await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync(message.ToBoc(), Ct));
        Assert.Contains("external message", replay.Message, StringComparison.Ordinal);
        Assert.Equal(10_000_000L, await fixture.Client.GetAddressBalanceAsync(to[0], Ct));
    }

    [Fact]
    public async Task A_transfer_signed_with_another_key_is_rejected()
    {
        using var wrong = WalletKey.FromSeed(new byte[32]);
        using var key = WalletKey.FromSeedHex(fixture.Chain.WalletSeedHex);
        var wallet = new WalletV5R1(key.PublicKey);
        var seqno = (await fixture.Client.GetWalletInformationAsync(wallet.Address, Ct)).Seqno!.Value;
        var forged = wallet.CreateTransfer(wrong, seqno, (uint)DateTimeOffset.UtcNow.AddMinutes(5).ToUnixTimeSeconds(), [(new InternalTransfer(wallet.Address, 1), (byte)1)]);
        await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync(forged.ToBoc(), Ct));
        Assert.Equal(seqno, (await fixture.Client.GetWalletInformationAsync(wallet.Address, Ct)).Seqno);
    }

    [Fact]
    public async Task Bad_requests_are_clear_errors()
    {
        var e = await Assert.ThrowsAsync<ToncenterException>(() => fixture.Client.SendBocAsync([1, 2, 3], Ct));
        Assert.Contains("bag of cells", e.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task The_chain_exits_when_disposed()
    {
        await using var chain = await Cocoon.Ledger.LocalChain.LocalChainProcess.StartAsync(new() { ScriptDirectory = NodeScripts.ChainDir }, null, Ct);
        var pid = chain.ProcessId;
        await chain.DisposeAsync();
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid));
    }
}
