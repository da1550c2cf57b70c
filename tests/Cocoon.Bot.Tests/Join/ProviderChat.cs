using Cocoon.Bot.Tests.Telegram;

namespace Cocoon.Bot.Tests.Join;

/// <summary>
/// A provider's private chat with the bot through the fake Bot API: each message waits for the bot's answer that the
/// test expects, and <see cref="RegisterAsync"/> walks the /provider register wizard as a provider would.
/// </summary>
internal sealed class ProviderChat(FakeBotApi api, long owner)
{
    private int _messageId = 1;

    /// <summary>Sends <paramref name="text"/> and returns the bot's next answer that <paramref name="expect"/> accepts.</summary>
    public async Task<string> SayAsync(string text, Func<string, bool> expect)
    {
        var before = api.Calls("sendMessage").Count(c => expect(c.Text!));
        api.Enqueue(FakeBotApi.TextUpdate(owner, owner, text, _messageId++));
        await api.WaitForAsync("sendMessage", c => expect(c.Text!), count: before + 1, timeout: TimeSpan.FromSeconds(60));
        return api.Calls("sendMessage").Last(c => expect(c.Text!)).Text!;
    }

    /// <summary>The whole wizard (GPU, 24 GB, eu, price 1, the payout address); returns the bot's "Registered provider" answer.</summary>
    public async Task<string> RegisterAsync(string gpu, string payoutAddress)
    {
        await SayAsync("/provider register", t => t.StartsWith("Let's register", StringComparison.Ordinal));
        await SayAsync(gpu, t => t.StartsWith("2/5", StringComparison.Ordinal));
        await SayAsync("24", t => t.StartsWith("3/5", StringComparison.Ordinal));
        await SayAsync("eu", t => t.StartsWith("4/5", StringComparison.Ordinal));
        await SayAsync("1", t => t.StartsWith("5/5", StringComparison.Ordinal));
        return await SayAsync(payoutAddress, t => t.StartsWith("Registered provider", StringComparison.Ordinal));
    }
}
