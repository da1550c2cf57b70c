using System.Text.Json.Nodes;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// TON Connect in a real browser: the page's own @tonconnect/ui finds a test wallet injected through TON Connect's JS
/// bridge (window.tonkeeper.tonconnect: Tonkeeper's bridge key, as its in-app browser injects it), connects with a ton_proof the
/// gateway checks, and tops up with sendTransaction; the wallet (node/test-wallet.mjs, a v5r1 wallet under a fresh
/// key) signs the transfer and sends it to the local chain, and the balance rises when the deposit watcher credits it.
/// </summary>
public sealed class MiniAppWalletBrowserTests(MiniAppWalletFixture fixture) : IClassFixture<MiniAppWalletFixture>
{
    [Fact]
    public async Task A_wallet_injected_through_the_TON_Connect_bridge_logs_in_with_ton_proof_and_its_top_up_is_credited_from_the_chain()
    {
        var userId = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        var initData = await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, userId, DateTimeOffset.UtcNow.AddMinutes(-1));

        var result = await MiniAppBrowser.RunAsync("wallet", fixture.BaseAddress, initData, extra: new JsonObject
        {
            ["chainUrl"] = fixture.Chain.BaseUrl.ToString(),
            ["amountTon"] = 2,
        });

        Assert.Equal("0.00 TON", result["balanceBefore"]!.GetValue<string>());
        Assert.Contains("Wallet verified and linked", result["linkedStatus"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.StartsWith("Linked wallet: ", result["walletLine"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("Credited: +2.00 TON", result["creditedStatus"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal("2.00 TON", result["balanceAfter"]!.GetValue<string>());

        // One signed transfer left the wallet, and the ledger credited exactly the invoice to this Telegram user.
        var sent = result["sent"]!.AsArray();
        Assert.Single(sent);
        Assert.Equal("2000000000", sent[0]!["amount"]!.GetValue<string>());
        var ledger = fixture.Host.Services.GetRequiredService<ILedger>();
        Assert.Equal(2_000_000_000, await ledger.GetBalanceAsync(AccountId.User(userId), CancellationToken.None));
        Assert.Contains(fixture.Logs.Lines, l => l.Contains(result["walletAddress"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase));
    }
}
