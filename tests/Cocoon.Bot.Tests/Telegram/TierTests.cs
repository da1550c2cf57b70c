using Cocoon.Bot.Telegram.Chats;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// The trust tier in the bot: the line under every answer names the tier it was served in, /privacy explains it and
/// the tiers the user accepts, and /tier (in words or with its buttons) sets the tiers every dispatch of the user's
/// private chat carries (the Matcher's AcceptedTiers).
/// </summary>
public sealed class TierTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long User = 913;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task Answers_carry_their_tier_and_the_users_tier_setting_goes_into_every_dispatch()
    {
        await using var api = new FakeBotApi();
        var dispatcher = new ScriptedDispatcher();
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:ShowTier"] = "true" });
        var messageId = 1;

        async Task<BotApiCall> SayAsync(string text, Func<BotApiCall, bool> answer)
        {
            var before = api.Calls("sendMessage").Count(answer);
            api.Enqueue(FakeBotApi.TextUpdate(User, User, text, messageId++));
            return (await api.WaitForAsync("sendMessage", answer, count: before + 1)).Where(c => c.Method == "sendMessage").Last(answer);
        }

        async Task<string> TapAsync(string data)
        {
            var before = api.Calls("answerCallbackQuery").Count;
            api.Enqueue(FakeBotApi.CallbackUpdate(User, User, data, messageId++));
            var calls = await api.WaitForAsync("answerCallbackQuery", _ => true, count: before + 1);
            return calls.Where(c => c.Method == "answerCallbackQuery").Last().Text ?? string.Empty;
        }

        var simulatedAnswer = "Hello, world!\n\n" + TierLabels.Footer("simulated");

        // No choice yet: the dispatch leaves the tiers to the gateway's default, and the answer names its tier.
        await SayAsync("first", c => c.Text == simulatedAnswer);
        Assert.Null(dispatcher.Requests[^1].Tiers);

        // /tier explains the tiers and offers buttons.
        var menu = await SayAsync("/tier", c => c.Text!.StartsWith("Answers come only from workers", StringComparison.Ordinal));
        Assert.Contains("Now: the network's default", menu.Text, StringComparison.Ordinal);
        Assert.Contains("consumer: a provider's own GPU without a TEE", menu.Text, StringComparison.Ordinal);
        var buttons = menu.Body["reply_markup"]!["inline_keyboard"]!.AsArray().Select(r => r![0]!["callback_data"]!.GetValue<string>()).ToList();
        Assert.Equal(["tier:tee", "tier:tee,simulated", "tier:tee,simulated,consumer", "tier:default"], buttons);

        // In words: the opt-in to consumer comes with its warning, and the next dispatch carries exactly that list.
        var set = await SayAsync("/tier consumer, tee", c => c.Text!.StartsWith("Tiers set", StringComparison.Ordinal));
        Assert.Equal("Tiers set: tee, consumer. Note: consumer workers have no TEE, so the provider's machine can read your prompts.", set.Text);
        dispatcher.AttestationKind = "none";
        await SayAsync("second", c => c.Text == "Hello, world!\n\n" + TierLabels.Footer("consumer"));
        Assert.Equal(["tee", "consumer"], dispatcher.Requests[^1].Tiers);

        // A name that is no tier changes nothing.
        await SayAsync("/tier gold", c => c.Text!.StartsWith("'gold' is not a trust tier", StringComparison.Ordinal));

        // /privacy names the last answer's tier and the tiers the user accepts.
        var privacy = await SayAsync("/privacy", c => c.Text!.StartsWith("Your last prompt", StringComparison.Ordinal));
        Assert.Contains("• trust tier: consumer: a provider's own GPU without a TEE", privacy.Text, StringComparison.Ordinal);
        Assert.Contains("• tiers you accept: tee, consumer (/tier changes them)", privacy.Text, StringComparison.Ordinal);

        // The buttons: tee only, then back to the default.
        Assert.Equal("Tiers set: tee.", await TapAsync("tier:tee"));
        dispatcher.AttestationKind = "tdx";
        await SayAsync("third", c => c.Text == "Hello, world!\n\n" + TierLabels.Footer("tee"));
        Assert.Equal(["tee"], dispatcher.Requests[^1].Tiers);
        Assert.StartsWith("Tiers set: the network's default", await TapAsync("tier:default"), StringComparison.Ordinal);
        dispatcher.AttestationKind = "simulated";
        await SayAsync("fourth", c => c.Text == simulatedAnswer && dispatcher.Requests.Count == 4);
        Assert.Null(dispatcher.Requests[^1].Tiers);

        // No worker in the user's tiers: the bot says so and how to change them.
        Assert.Equal("Tiers set: tee.", await TapAsync("tier:tee"));
        dispatcher.Models = [];
        await SayAsync("fifth", c => c.Text!.StartsWith("No worker in the tiers you accept (tee) is online", StringComparison.Ordinal));
    }
}
