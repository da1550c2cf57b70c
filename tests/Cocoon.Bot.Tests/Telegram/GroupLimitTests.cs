using Cocoon.Ledger.Accounts;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>A group's daily token limit per member is enforced, not only stored.</summary>
public sealed class GroupLimitTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Group = -1001234599;
    private const long Alice = 711;
    private const long Bob = 712;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task A_member_over_the_daily_token_limit_is_declined_and_others_still_get_answers()
    {
        await using var api = new FakeBotApi();
        api.MakeAdmin(Group, Alice);
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:GroupMessagesPerMinute"] = "60" });
        foreach (var member in new[] { Alice, Bob })
        {
            await bot.Ledger.CreditAsync(AccountId.User(member), 1_000_000_000, AccountId.FreeAllowance, "seed-" + member, default);
        }

        // Each scripted answer uses 7 prompt + 3 completion tokens: a limit of 10 allows exactly one a day.
        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/settings limit 10", 50));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Saved.", StringComparison.Ordinal));

        api.Enqueue(FakeBotApi.MentionUpdate(Group, Alice, "first", 51));
        await api.WaitForAsync(cs => dispatcher.Requests.Count == 1 && cs.Any(c => c.Text == "Hello, world!"));
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Alice, "second", 52));
        var decline = (await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("You've used your 10 tokens for today", StringComparison.Ordinal)))
            .Single(c => c.Method == "sendMessage" && c.Text!.StartsWith("You've used your", StringComparison.Ordinal));
        Assert.Equal(52, decline.Body["reply_parameters"]!["message_id"]!.GetValue<int>());
        Assert.Equal(Alice, decline.Body["ephemeral_message_parameters"]!["receiver_user_id"]!.GetValue<long>()); // her limit, seen by her alone

        // The limit is per member: Bob still gets his answer.
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Bob, "mine", 53));
        await api.WaitForAsync(cs => dispatcher.Requests.Count == 2);
        Assert.Equal(["user:711", "user:712"], dispatcher.Requests.Select(r => r.Payer.Value));
    }
}
