using System.Text.Json.Nodes;
using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Engine.Attestation;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Receipts;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// The "Verify" button under a real worker's answer (fake Bot API, real dispatcher, Redis, SQLite ledger, llama.cpp):
/// it carries the answer's receipt id; tapping it shows the stored receipt's hashes, worker, tier and anchoring status
/// and how to run ./cocoon verify, to the payer only.
/// </summary>
public sealed class VerifyButtonTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long User = 1101;
    private const long Stranger = 1102;

    [Fact]
    public async Task The_verify_button_shows_the_answers_receipt_to_its_payer_and_to_nobody_else()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var network = new DispatchNetwork(fixture.Server);
        await network.StartAsync(cts.Token);
        var (_, session) = await network.StartWorkerAsync(cts.Token);
        await network.Ledger.CreditAsync(AccountId.User(User), 1_000_000_000, AccountId.FreeAllowance, "verify-fund-" + Guid.NewGuid(), cts.Token);
        var store = network.Gateway.Services.GetRequiredService<ReceiptStore>();

        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(fixture.Server, api, network.Dispatcher, network.Ledger, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:MaxAnswerTokens"] = "16", ["Telegram:FreeAllowanceNanotons"] = "0" },
            services: s => s.AddSingleton(store));

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "Once upon a time", 7));
        var answer = (await api.WaitForAsync("sendMessage", c => c.ChatId == User && c.Body["reply_markup"] is not null, timeout: TimeSpan.FromSeconds(90)))
            .Last(c => c.Method == "sendMessage" && c.Body["reply_markup"] is not null);
        var button = answer.Body["reply_markup"]!["inline_keyboard"]![0]![0]!;
        Assert.Equal("🔍 Verify", button["text"]!.GetValue<string>());
        var data = button["callback_data"]!.GetValue<string>();
        var requestId = $"tg-{User}-7";
        Assert.Equal("vr:" + requestId, data);

        var (record, _) = (await store.FindAsync(requestId, AccountId.User(User).Value, cts.Token))!.Value;
        var receipt = SignedUsageReceipt.FromJson(record.SignedReceiptJson).Receipt;
        Assert.Equal(session.WorkerId, receipt.WorkerId);

        // The payer taps it: the receipt's own hashes, worker, tier, anchoring and the command.
        api.Enqueue(FakeBotApi.CallbackUpdate(User, User, data, 100));
        var shown = (await api.WaitForAsync("sendMessage", c => c.Text?.Contains("Receipt " + requestId, StringComparison.Ordinal) == true))
            .Last(c => c.Text?.Contains("Receipt " + requestId, StringComparison.Ordinal) == true).Text!;
        Assert.Contains(Convert.ToHexStringLower(receipt.RequestSha256), shown, StringComparison.Ordinal);
        Assert.Contains(Convert.ToHexStringLower(receipt.ResponseSha256), shown, StringComparison.Ordinal);
        Assert.Contains($"Worker: {session.WorkerId} (simulated tier", shown, StringComparison.Ordinal);
        Assert.Contains("Anchoring: this network has no TON chain configured", shown, StringComparison.Ordinal);
        Assert.Contains("./cocoon verify " + requestId, shown, StringComparison.Ordinal);
        Assert.Contains(api.Calls("answerCallbackQuery"), c => c.Body["callback_query_id"] is not null);

        // Anyone else who gets hold of the button (a forwarded message) learns nothing.
        api.Enqueue(FakeBotApi.CallbackUpdate(Stranger, Stranger, data, 101));
        var refused = (await api.WaitForAsync("sendMessage", c => c.ChatId == Stranger)).Last(c => c.ChatId == Stranger).Text!;
        Assert.StartsWith("No receipt " + requestId + " for you", refused, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToHexStringLower(receipt.ResponseSha256), refused, StringComparison.Ordinal);
    }
}
