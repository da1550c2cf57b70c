using Cocoon.Bot.Tests.Dispatch;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>The bot on the real network: dispatcher, Redis transport, SQLite ledger and a llama.cpp worker on the small model.</summary>
public sealed class EndToEndTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private const long User = 1001;
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public async Task A_private_conversation_is_answered_by_a_real_worker_streamed_and_billed()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var network = new DispatchNetwork(redis);
        await network.StartAsync(cts.Token);
        var (_, session) = await network.StartWorkerAsync(cts.Token);
        await network.Ledger.CreditAsync(AccountId.User(User), 1_000_000_000, AccountId.FreeAllowance, "e2e-fund-" + Guid.NewGuid(), cts.Token);

        await using var api = new FakeBotApi();
        var prefix = BotHarness.NewPrefix();
        await using var bot = await BotHarness.StartAsync(redis, api, network.Dispatcher, network.Ledger, prefix, BotHarness.NewHostKey(),
            new Dictionary<string, string?> { ["Telegram:MaxAnswerTokens"] = "48", ["Telegram:FreeAllowanceNanotons"] = "0" });

        api.Enqueue(FakeBotApi.TextUpdate(User, User, "Once upon a time", 1));
        var calls = await api.WaitForAsync("sendMessage", c => c.ChatId == User, timeout: TimeSpan.FromSeconds(90));
        var answer = calls.Single(c => c.Method == "sendMessage").Text!;
        Assert.False(string.IsNullOrWhiteSpace(answer));
        Assert.True(answer.Length <= 4096);
        Assert.Contains(calls, c => c.Method == "sendChatAction");

        // The receipt behind /privacy names the real worker and its simulated attestation; the bill matches it.
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "/privacy", 2));
        var privacy = (await api.WaitForAsync("sendMessage", c => c.Text!.Contains(session.WorkerId, StringComparison.Ordinal))).Last(c => c.Method == "sendMessage").Text!;
        Assert.Contains("SIMULATED", privacy, StringComparison.Ordinal);
        var spent = 1_000_000_000 - await network.Ledger.GetBalanceAsync(AccountId.User(User), cts.Token);
        Assert.True(spent > 0);
        Assert.Contains(Cocoon.Bot.Telegram.Accounts.Money.Ton(spent), privacy, StringComparison.Ordinal);

        // A second turn carries the first as context.
        api.Enqueue(FakeBotApi.TextUpdate(User, User, "And then?", 3));
        await api.WaitForAsync("sendMessage", c => c.ChatId == User && c.Text != answer && !c.Text!.Contains("worker", StringComparison.Ordinal), timeout: TimeSpan.FromSeconds(90));

        // Neither the prompt nor the answer is in Redis in plaintext (the bot's keys and the network's streams).
        await RedisPlaintext.AssertAbsentAsync(bot.Redis, "*", "Once upon a time", "And then?", answer.Trim());
    }
}
