using Cocoon.Bot.Telegram.Chats;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// A replica stops between settling an answer and completing its update's inbox entry (the crash point is injected:
/// the replica blocks there until it is shut down, so the entry stays in the inbox and its lease is given up). The other
/// replica then handles the replayed update: it asks no worker again and the user gets the answer exactly once.
/// </summary>
public sealed class AnswerCrashTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const string Secret = "webhook-secret-for-crash-tests-0123456789";

    private static Dictionary<string, string?> Webhook => new()
    {
        ["Telegram:Mode"] = "Webhook",
        ["Telegram:WebhookUrl"] = "https://bot.example.org/telegram/webhook",
        ["Telegram:WebhookSecret"] = Secret,
        ["Telegram:InboxLease"] = "00:00:06",
    };

    [Theory]
    [InlineData("settled")] // settled (charged) but its final message not sent yet: the replay sends the kept answer
    [InlineData("sent")]    // sent but the inbox entry not completed: the replay sends nothing
    public async Task A_crash_between_settling_an_answer_and_completing_its_update_neither_asks_again_nor_answers_twice(string crashPoint)
    {
        await using var api = new FakeBotApi();
        using var data = new TempDir("cocoon-answer-crash");
        var (prefix, hostKey) = (BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var first = new ScriptedDispatcher { Answer = r => ["A: ", r.Generation.Messages![^1].Content] };
        var second = new ScriptedDispatcher { Answer = r => ["B: ", r.Generation.Messages![^1].Content] };
        var crashed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task CrashHere(string _, CancellationToken ct)
        {
            crashed.TrySetResult();
            return Task.Delay(Timeout.Infinite, ct);
        }

        var faults = crashPoint == "settled" ? new AnswerFaultPoints { AfterSettled = CrashHere } : new AnswerFaultPoints { AfterSent = CrashHere };
        var a = await BotHarness.StartAsync(redis.Server, api, first, null, prefix, hostKey, Webhook, services: s => s.AddSingleton(faults), dataDir: data.Path);
        BotHarness? b = null;
        var aDisposed = false;
        try
        {
            var update = FakeBotApi.TextUpdate(7301, 7301, "crash " + crashPoint, 5);
            update["update_id"] = 930_001;
            Assert.Equal(200, await a.PostWebhookAsync(update, Secret));
            await crashed.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.Single(first.Requests);

            // The process stops at the crash point: the update stays in the inbox, handled by nobody.
            await a.StopAsync();
            Assert.Contains(await a.Get<UpdateInbox>().PendingAsync(default), u => u.Id == 930_001);
            aDisposed = true;
            await a.DisposeAsync();

            b = await BotHarness.StartAsync(redis.Server, api, second, null, prefix, hostKey, Webhook, dataDir: data.Path);
            var inbox = b.Get<UpdateInbox>();
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await inbox.PendingAsync(default)).Count > 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the replayed update was not completed");
                await Task.Delay(50);
            }
        }
        finally
        {
            if (!aDisposed)
            {
                await a.DisposeAsync();
            }

            if (b is not null)
            {
                await b.DisposeAsync();
            }
        }

        // No second job, and the answer went out exactly once, with the first replica's text.
        Assert.Empty(second.Requests);
        Assert.Single(api.Calls("sendMessage"), c => c.Text == "A: crash " + crashPoint);
        Assert.DoesNotContain(api.Calls("sendMessage"), c => c.Text?.StartsWith("B: ", StringComparison.Ordinal) == true);
    }
}
