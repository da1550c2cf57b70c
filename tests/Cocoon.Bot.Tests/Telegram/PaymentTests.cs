using Cocoon.Bot.Telegram.Payments;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class PaymentTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long User = 801;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Topup_offers_XTR_invoices_with_one_price_and_no_provider_token()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:MiniAppUrl"] = "https://app.example.org/" });

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "/topup", 1));
        var menu = (await api.WaitForAsync("sendMessage", c => c.Body["reply_markup"] is not null)).First(c => c.Method == "sendMessage");
        var buttons = menu.Body["reply_markup"]!["inline_keyboard"]!.AsArray();
        Assert.Equal(3, buttons[0]!.AsArray().Count);
        Assert.Equal("https://app.example.org/", buttons[1]![0]!["web_app"]!["url"]!.GetValue<string>());

        api.Enqueue(FakeBotApi.CallbackUpdate(User, User, "stars:250", 2));
        var invoice = (await api.WaitForAsync("sendInvoice", _ => true)).Single(c => c.Method == "sendInvoice");
        Assert.Equal("XTR", invoice.Body["currency"]!.GetValue<string>());
        Assert.Equal(string.Empty, invoice.Body["provider_token"]?.GetValue<string>() ?? string.Empty);
        var price = Assert.Single(invoice.Body["prices"]!.AsArray());
        Assert.Equal(250, price!["amount"]!.GetValue<int>());
        Assert.Equal($"v1:u:{User}:250", invoice.Body["payload"]!.GetValue<string>());
        Assert.Contains(api.Calls("answerCallbackQuery"), c => c.Body["callback_query_id"] is not null);
    }

    [Fact]
    public async Task Pre_checkout_is_accepted_for_our_invoice_and_refused_for_a_forged_one()
    {
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.PreCheckoutUpdate(User, $"v1:u:{User}:250", 250));
        api.Enqueue(FakeBotApi.PreCheckoutUpdate(User, $"v1:u:{User}:250", 1));        // amount doesn't match
        api.Enqueue(FakeBotApi.PreCheckoutUpdate(User, "v1:u:999:250", 250));           // someone else's invoice
        var calls = await api.WaitForAsync("answerPreCheckoutQuery", _ => true, count: 3);
        var answers = calls.Where(c => c.Method == "answerPreCheckoutQuery").ToList();
        Assert.True(answers[0].Body["ok"]!.GetValue<bool>());
        Assert.False(answers[1].Body["ok"]!.GetValue<bool>());
        Assert.False(answers[2].Body["ok"]!.GetValue<bool>());
        Assert.NotNull(answers[2].Body["error_message"]);
    }

    [Fact]
    public async Task A_payment_delivered_twice_is_credited_once_and_can_be_refunded()
    {
        await using var api = new FakeBotApi();
                await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:FreeAllowanceNanotons"] = "0", ["Telegram:NanotonsPerStar"] = "4000000" });

        var charge = "stxCharge" + Guid.NewGuid().ToString("N")[..8];
        api.Enqueue(FakeBotApi.SuccessfulPaymentUpdate(User, $"v1:u:{User}:250", 250, charge, 5));
        api.Enqueue(FakeBotApi.SuccessfulPaymentUpdate(User, $"v1:u:{User}:250", 250, charge, 6));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Thank you!", StringComparison.Ordinal));
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (api.Unconfirmed > 0 || (await bot.Get<Cocoon.Bot.Telegram.Updates.UpdateInbox>().PendingAsync(default)).Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline);
            await Task.Delay(50);
        }

        Assert.Equal(250 * 4_000_000L, await bot.Ledger.GetBalanceAsync(AccountId.User(User), default));
        Assert.Single(api.Calls("sendMessage"), c => c.Text!.StartsWith("Thank you!", StringComparison.Ordinal));

        var outcome = await bot.Get<StarsPayments>().RefundAsync(charge, default);
        Assert.Equal(RefundOutcome.Refunded, outcome);
        var refund = Assert.Single(api.Calls("refundStarPayment"));
        Assert.Equal(charge, refund.Body["telegram_payment_charge_id"]!.GetValue<string>());
        Assert.Equal(User, refund.Body["user_id"]!.GetValue<long>());
        Assert.Equal(0, await bot.Ledger.GetBalanceAsync(AccountId.User(User), default));
        Assert.Equal(RefundOutcome.AlreadyRefunded, await bot.Get<StarsPayments>().RefundAsync(charge, default));
    }
}
