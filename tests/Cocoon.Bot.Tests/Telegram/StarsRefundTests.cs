using Cocoon.Bot.Telegram.Payments;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// The README's refund promises: Telegram refusing a refund leaves the user's credit in place, credit already spent
/// is never refunded, and only an operator can ask for a refund from the chat.
/// </summary>
public sealed class StarsRefundTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Operator = 870;
    private const long NanotonsPerStar = 4_000_000;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task When_Telegram_refuses_the_refund_the_credit_is_given_back()
    {
        const long user = 871;
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api);
        var charge = await PayAsync(api, bot, user, 250);

        api.FailNext("refundStarPayment", 400, "Bad Request: CHARGE_NOT_FOUND");
        Assert.Equal(RefundOutcome.RefusedByTelegram, await bot.Get<StarsPayments>().RefundAsync(charge, default));
        Assert.Single(api.Calls("refundStarPayment"));
        Assert.Equal(250 * NanotonsPerStar, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));

        // Refused is not refunded: asked again later, the refund goes through once.
        Assert.Equal(RefundOutcome.Refunded, await bot.Get<StarsPayments>().RefundAsync(charge, default));
        Assert.Equal(2, api.Calls("refundStarPayment").Count);
        Assert.Equal(0, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));
    }

    [Fact]
    public async Task Credit_already_spent_is_not_refunded_and_Telegram_is_not_asked()
    {
        const long user = 872;
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api);
        var charge = await PayAsync(api, bot, user, 250);

        // One nanoton of it is spent on an answer.
        var hold = await bot.Ledger.HoldAsync(AccountId.User(user), 10, "spend:" + charge, default);
        await bot.Ledger.SettleAsync(hold.Id, [new Payee(AccountId.Provider("p-refund"), 1)], default);

        Assert.Equal(RefundOutcome.CreditAlreadySpent, await bot.Get<StarsPayments>().RefundAsync(charge, default));
        Assert.Empty(api.Calls("refundStarPayment"));
        Assert.Equal((250 * NanotonsPerStar) - 1, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));
    }

    [Fact]
    public async Task Only_an_operator_can_refund_from_the_chat()
    {
        const long user = 873;
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api);
        var charge = await PayAsync(api, bot, user, 250);

        // The payer (not an operator) tries: the command does not exist for them, nothing moves.
        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/refund " + charge, 20));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.StartsWith("I don't know that command", StringComparison.Ordinal));
        await WaitUntilIdleAsync(api, bot);
        Assert.Empty(api.Calls("refundStarPayment"));
        Assert.Equal(250 * NanotonsPerStar, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));

        // The operator asks: refunded.
        api.Enqueue(FakeBotApi.TextUpdate(Operator, Operator, "/refund " + charge, 21));
        await api.WaitForAsync("sendMessage", c => c.ChatId == Operator && c.Text == $"Refund of {charge}: Refunded.");
        var refund = Assert.Single(api.Calls("refundStarPayment"));
        Assert.Equal(user, refund.Body["user_id"]!.GetValue<long>());
        Assert.Equal(0, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));
    }

    private Task<BotHarness> StartAsync(FakeBotApi api) =>
        BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?>
            {
                ["Telegram:FreeAllowanceNanotons"] = "0",
                ["Telegram:NanotonsPerStar"] = NanotonsPerStar.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Telegram:OperatorUserIds:0"] = Operator.ToString(System.Globalization.CultureInfo.InvariantCulture),
            });

    private static async Task<string> PayAsync(FakeBotApi api, BotHarness bot, long user, int stars)
    {
        var charge = "stxCharge" + Guid.NewGuid().ToString("N")[..8];
        api.Enqueue(FakeBotApi.SuccessfulPaymentUpdate(user, $"v1:u:{user}:{stars}", stars, charge, 5));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.StartsWith("Thank you!", StringComparison.Ordinal));
        await WaitUntilIdleAsync(api, bot);
        Assert.Equal(stars * NanotonsPerStar, await bot.Ledger.GetBalanceAsync(AccountId.User(user), default));
        return charge;
    }

    private static async Task WaitUntilIdleAsync(FakeBotApi api, BotHarness bot)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (api.Unconfirmed > 0 || (await bot.Get<UpdateInbox>().PendingAsync(default)).Count > 0)
        {
            Assert.True(DateTime.UtcNow < deadline, "the bot did not finish its updates in time");
            await Task.Delay(50);
        }
    }
}
