using Cocoon.Bot.Telegram;
using Cocoon.Bot.Telegram.Groups;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class GroupTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long Group = -1001234567;
    private const long Alice = 701;
    private const long Bob = 702;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task A_mention_is_answered_in_reply_and_an_unmentioned_message_is_ignored()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        await bot.Ledger.CreditAsync(AccountId.User(Alice), 1_000_000_000, AccountId.FreeAllowance, "seed-alice", default);

        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "just chatting among humans", 10));
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Alice, "what is TON?", 11));
        var calls = await api.WaitForAsync(cs => cs.Any(c => c.Text == "Hello, world!"));

        var request = Assert.Single(dispatcher.Requests);
        Assert.Equal("what is TON?", request.Generation.Messages![^1].Content);
        Assert.Equal(AccountId.User(Alice), request.Payer);
        var first = calls.First(c => c.Method == "sendMessage" && c.ChatId == Group);
        Assert.Equal(11, first.Body["reply_parameters"]!["message_id"]!.GetValue<int>());
        Assert.DoesNotContain(calls, c => c.Method == "sendMessageDraft"); // drafts are for private chats only

        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/ask@some_other_bot hi", 12));
        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/ask and via the command?", 13));
        await api.WaitForAsync(cs => dispatcher.Requests.Count == 2);
        Assert.Equal("and via the command?", dispatcher.Requests[1].Generation.Messages![^1].Content);
    }

    [Fact]
    public async Task Only_admins_change_settings_as_Telegram_reports_them()
    {
        await using var api = new FakeBotApi();
        api.MakeAdmin(Group, Alice);
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        await bot.Ledger.CreditAsync(AccountId.Group(Group), 1_000_000_000, AccountId.FreeAllowance, "seed-group", default);

        api.Enqueue(FakeBotApi.TextUpdate(Group, Bob, "/settings off", 20));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Only the group's admins", StringComparison.Ordinal));
        Assert.Contains(api.Calls("getChatMember"), c => c.Body["user_id"]!.GetValue<long>() == Bob);
        Assert.True((await bot.Get<GroupSettingsStore>().GetAsync(Group, default)).Enabled);

        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/settings payer group", 21));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Saved.", StringComparison.Ordinal));
        Assert.Equal(GroupPayer.Group, (await bot.Get<GroupSettingsStore>().GetAsync(Group, default)).Payer);

        // Bob now asks on the group's budget.
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Bob, "hello", 22));
        await api.WaitForAsync(cs => dispatcher.Requests.Count == 1);
        Assert.Equal(AccountId.Group(Group), dispatcher.Requests[0].Payer);

        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/settings off", 23));
        await api.WaitForAsync("sendMessage", c => c.Text!.Contains("Answers: off", StringComparison.Ordinal));
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Bob, "still there?", 24));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("AI answers are turned off", StringComparison.Ordinal));
        Assert.Single(dispatcher.Requests);
    }

    [Fact]
    public async Task Added_greets_the_group_and_removed_deletes_its_state()
    {
        await using var api = new FakeBotApi();
        api.MakeAdmin(Group, Alice);
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.MyChatMember(Group, Alice, "left", "member"));
        await api.WaitForAsync("sendMessage", c => c.Text == GroupHandler.Greeting && c.ChatId == Group);
        api.Enqueue(FakeBotApi.TextUpdate(Group, Alice, "/settings limit 500", 30));
        await api.WaitForAsync("sendMessage", c => c.Text!.StartsWith("Saved.", StringComparison.Ordinal));
        var keys = bot.Get<TelegramKeys>();
        Assert.True(await bot.Redis.GetDatabase().KeyExistsAsync(keys.Group(Group)));

        api.Enqueue(FakeBotApi.MyChatMember(Group, Alice, "member", "kicked"));
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (await bot.Redis.GetDatabase().KeyExistsAsync(keys.Group(Group)))
        {
            Assert.True(DateTime.UtcNow < deadline, "group settings were not deleted");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task Over_the_group_limit_an_answer_is_declined_politely_not_dropped()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:GroupMessagesPerMinute"] = "1", ["Telegram:GroupMaxWait"] = "00:00:01" });
        await bot.Ledger.CreditAsync(AccountId.User(Alice), 1_000_000_000, AccountId.FreeAllowance, "seed-alice", default);

        api.Enqueue(FakeBotApi.MentionUpdate(Group, Alice, "first", 40));
        api.Enqueue(FakeBotApi.MentionUpdate(Group, Alice, "second", 41));
        var calls = await api.WaitForAsync("sendMessage", c => c.Text!.Contains("Please ask again in a minute", StringComparison.Ordinal));
        var decline = calls.Single(c => c.Text?.Contains("ask again", StringComparison.Ordinal) == true);
        Assert.Equal(41, decline.Body["reply_parameters"]!["message_id"]!.GetValue<int>());
        Assert.Single(dispatcher.Requests);
    }
}
