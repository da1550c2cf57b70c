using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>The private-chat commands the README lists, each answered with what it promises.</summary>
public sealed class BotCommandTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long User = 881;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Start_help_balance_model_usage_and_new_answer_as_documented()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher { Models = ["stories260K", "other-model"] };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var messageId = 1;

        async Task<BotApiCall> SayAsync(string text, Func<BotApiCall, bool> answer)
        {
            var before = api.Calls("sendMessage").Count(answer);
            api.Enqueue(FakeBotApi.TextUpdate(User, User, text, messageId++));
            return (await api.WaitForAsync("sendMessage", answer, count: before + 1)).Where(c => c.Method == "sendMessage").Last(answer);
        }

        await SayAsync("/start", c => c.Text == PrivateChatHandler.Welcome);
        await SayAsync("/help", c => c.Text == PrivateChatHandler.Help);

        // The free allowance (50_000_000 nanotons in the harness) is the balance, with a top-up button.
        var balance = await SayAsync("/balance", c => c.Text!.StartsWith("Your balance:", StringComparison.Ordinal));
        Assert.Equal("Your balance: 0.05 TON.", balance.Text);
        Assert.Equal(CallbackData.TopUpMenu, balance.Body["reply_markup"]!["inline_keyboard"]![0]![0]!["callback_data"]!.GetValue<string>());

        // One button per served model, the current one marked.
        var models = await SayAsync("/model", c => c.Text!.StartsWith("Choose a model", StringComparison.Ordinal));
        var buttons = models.Body["reply_markup"]!["inline_keyboard"]!.AsArray().Select(row => row![0]!["text"]!.GetValue<string>()).ToList();
        Assert.Equal(["✓ stories260K · 1 workers · price ×1", "other-model · 1 workers · price ×1"], buttons);

        await SayAsync("/usage", c => c.Text == "No answers yet.");

        // An answer, then /usage lists it with its tokens (7 prompt + 3 pieces) and cost (1234 nanotons).
        await SayAsync("first question", c => c.Text == "Hello, world!");
        var usage = await SayAsync("/usage", c => c.Text!.StartsWith("Recent answers:", StringComparison.Ordinal));
        Assert.Contains("stories260K · 7+3 tokens · 0.000001234 TON", usage.Text, StringComparison.Ordinal);

        // The conversation is context for the next turn until /new; after it, only the new message is sent.
        await SayAsync("second question", c => c.Text == "Hello, world!" && dispatcher.Requests.Count == 2);
        Assert.Equal(["first question", "Hello, world!", "second question"], dispatcher.Requests[1].Generation.Messages!.Select(m => m.Content).Where(t => t != null).TakeLast(3));
        await SayAsync("/new", c => c.Text == "Started a new conversation. The previous one is deleted.");
        await SayAsync("third question", c => c.Text == "Hello, world!" && dispatcher.Requests.Count == 3);
        var third = dispatcher.Requests[2].Generation.Messages!;
        Assert.Equal("third question", third[^1].Content);
        Assert.DoesNotContain(third, m => m.Content is "first question" or "second question");
    }
}
