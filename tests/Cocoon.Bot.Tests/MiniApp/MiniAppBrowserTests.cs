using System.Text;
using Cocoon.Bot.Tests.Privacy;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// The Mini App in a real browser (Debian's chromium via playwright-core) against the real gateway, Redis, worker
/// and ledger: opened as Telegram opens it (signed init data and theme in the launch URL, the webview bridge
/// injected), and opened in a plain browser. Each flow writes screenshots (light and dark) under COCOON_DATA.
/// </summary>
public sealed class MiniAppBrowserTests(MiniAppBrowserFixture fixture) : IClassFixture<MiniAppBrowserFixture>
{
    private static long NewUserId() => Random.Shared.NextInt64(1_000_000, 9_000_000_000);

    private async Task<(long UserId, string InitData)> FundedUserAsync(long nanotons)
    {
        var userId = NewUserId();
        var ledger = fixture.Host.Services.GetRequiredService<ILedger>();
        await ledger.CreditAsync(AccountId.User(userId), nanotons, AccountId.StarsClearing, "miniapp-browser-" + Guid.NewGuid(), CancellationToken.None);
        return (userId, await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, userId, DateTimeOffset.UtcNow.AddMinutes(-1)));
    }

    [Fact]
    public async Task Opened_from_Telegram_it_shows_the_balance_and_every_screen_in_both_themes()
    {
        var (_, initData) = await FundedUserAsync(1_500_000_000);
        var result = await MiniAppBrowser.RunAsync("tour", fixture.BaseAddress, initData);

        foreach (var theme in new[] { "light", "dark" })
        {
            var seen = result["themes"]![theme]!;
            Assert.Equal("1.50 TON", seen["headerBalance"]!.GetValue<string>());
            Assert.Equal("1.50 TON", seen["balance"]!.GetValue<string>());
            Assert.Contains("Answers", seen["usageText"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Contains("/provider register", seen["providerText"]!.GetValue<string>(), StringComparison.Ordinal);

            // A product, not a debug page: no raw JSON on any screen.
            var text = seen["bodyText"]!.GetValue<string>();
            Assert.DoesNotContain("{\"", text, StringComparison.Ordinal);
            Assert.DoesNotContain("_nanotons", text, StringComparison.Ordinal);

            // The page spoke Telegram's bridge: ready, the back button on inner screens, the main button on Balance.
            var events = seen["events"]!.AsArray().Select(e => e!.GetValue<string>()).ToList();
            Assert.Contains("web_app_ready", events);
            Assert.Contains("web_app_setup_back_button", events);
            Assert.Contains("web_app_setup_main_button", events);
        }

        // The theme follows Telegram's: the page background is the theme's secondary background in each.
        Assert.Equal("rgb(239, 239, 244)", result["themes"]!["light"]!["background"]!.GetValue<string>());
        Assert.Equal("rgb(28, 28, 29)", result["themes"]!["dark"]!["background"]!.GetValue<string>());
        Assert.All(result["screenshots"]!.AsArray(), p => Assert.True(new FileInfo(p!.GetValue<string>()).Length > 10_000));
    }

    [Fact]
    public async Task A_chat_answer_streams_in_is_billed_and_the_canary_typed_into_the_page_stays_out_of_the_gateway()
    {
        var (userId, initData) = await FundedUserAsync(1_000_000_000);
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var prompt = $"Once upon a time {canary} met a little dog.";

        var result = await MiniAppBrowser.RunAsync("chat", fixture.BaseAddress, initData, prompt);

        var answer = result["answer"]!.GetValue<string>();
        Assert.True(answer.Trim().Length >= 20, $"the small model answered too little to search for: '{answer}'");
        Assert.True(result["answerStates"]!.GetValue<int>() >= 3, $"the answer did not stream: {result["answerStates"]} states");
        Assert.True(result["stopShownWhileStreaming"]!.GetValue<bool>());
        var meta = result["meta"]!.GetValue<string>();
        Assert.Contains("tokens", meta, StringComparison.Ordinal);
        // Sealed in the browser: the page verified the worker's attestation, sealed the prompt and opened the stream itself.
        Assert.Contains("sealed in this browser", meta, StringComparison.Ordinal);
        var badge = result["badge"]!.GetValue<string>();
        Assert.Contains("Sealed in this browser to a verified worker (simulated, measurement ", badge, StringComparison.Ordinal);
        var session = await fixture.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;
        Assert.Contains(session.Bundle.Document.Measurement.ToLowerInvariant()[..12], badge, StringComparison.Ordinal);
        Assert.Contains(session.Bundle.Document.ModelSha256.ToLowerInvariant()[..12], badge, StringComparison.Ordinal);

        // The answer verified in one tap, in the page: every line of the receipt check holds.
        var check = result["receiptCheck"]!.GetValue<string>();
        Assert.Equal("true", result["receiptOk"]!.GetValue<string>());
        Assert.Contains("✔ signed by the attested worker", check, StringComparison.Ordinal);
        Assert.Contains("✔ request hash is what this page sealed", check, StringComparison.Ordinal);
        Assert.Contains("✔ answer hash is what this page read", check, StringComparison.Ordinal);
        Assert.DoesNotContain("✘", check, StringComparison.Ordinal);

        // The same tap follows the receipt to TON: pending until the next batch (every second here), then the page
        // folds the Merkle proof itself and reads the root from the anchoring transaction on the chain, not the gateway.
        var anchor = result["anchorText"]!.GetValue<string>();
        Assert.True(result["anchorState"]!.GetValue<string>() == "ok", anchor);
        Assert.Contains("✔ the gateway keeps the receipt this page checked", anchor, StringComparison.Ordinal);
        Assert.Contains("✔ in batch root ", anchor, StringComparison.Ordinal);
        Assert.Contains("✔ the same root is on TON", anchor, StringComparison.Ordinal);
        Assert.Contains("Read from TON: transaction ", anchor, StringComparison.Ordinal);

        var ledger = fixture.Host.Services.GetRequiredService<ILedger>();
        var balance = await ledger.GetBalanceAsync(AccountId.User(userId), CancellationToken.None);
        Assert.InRange(balance, 1, 999_999_999);

        // The answer was logged as ids and counts only.
        Assert.Contains(fixture.Logs.Lines, l => l.Contains("Mini App answer sealed-", StringComparison.Ordinal) && l.Contains(userId.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));

        var needles = PrivacyScanner.Encodings(canary).ToList();
        needles.AddRange(PrivacyScanner.AnswerWindows(answer));

        var haystacks = await PrivacyScanner.EverywhereAsync(fixture.Redis, fixture.Data.Path, fixture.Logs, fixture.BaseAddress);

        // The scan looked at something real: the sealed job stream, the ledger, the AOF, the Mini App's usage counters.
        Assert.Contains(haystacks, h => h.Where.Contains("jobs:", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("ledger.db", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("appendonly", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("miniapp:usage:" + userId, StringComparison.Ordinal));

        var leaks = PrivacyScanner.Leaks(haystacks, needles);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
        Assert.Contains(needles, n => Encoding.UTF8.GetBytes(prompt).AsSpan().IndexOf(n.Bytes) >= 0);
    }

    [Fact]
    public async Task Opened_in_a_plain_browser_it_explains_what_it_is_and_how_to_open_it()
    {
        var result = await MiniAppBrowser.RunAsync("outside", fixture.BaseAddress);
        var text = result["outsideText"]!.GetValue<string>();
        Assert.Contains("Open it in Telegram", text, StringComparison.Ordinal);
        Assert.Contains("Cocoon bot", text, StringComparison.Ordinal);
        Assert.Equal(2, result["screenshots"]!.AsArray().Count);
    }
}
