using Cocoon.Bot.Telegram.Updates;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>
/// Two gateway replicas in webhook mode share one update inbox (same Redis, same bot, same host key, same ledger), as
/// behind a load balancer: every update is handled by exactly one replica, whichever replica Telegram delivered it to
/// (and redelivered it to); a live replica's update is never taken from it; one accepted by a replica that died is
/// taken over by the other once its lease runs out; one cut short by a graceful stop is taken over at once.
/// </summary>
public sealed class ReplicaTests(RedisFixture redis) : IClassFixture<RedisFixture>
{
    private const string Secret = "webhook-secret-for-replicas-0123456789";
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(6);

    private static Dictionary<string, string?> Webhook => new()
    {
        ["Telegram:Mode"] = "Webhook",
        ["Telegram:WebhookUrl"] = "https://bot.example.org/telegram/webhook",
        ["Telegram:WebhookSecret"] = Secret,
        ["Telegram:InboxLease"] = Lease.ToString(),
    };

    [Fact]
    public async Task Updates_delivered_and_redelivered_to_either_replica_are_each_answered_once()
    {
        await using var api = new FakeBotApi();
        using var data = new TempDir("cocoon-replicas");
        var (prefix, hostKey) = (BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var dispatcher = new ScriptedDispatcher { Answer = r => ["re: " + r.Generation.Messages![^1].Content] };
        await using var a = await BotHarness.StartAsync(redis.Server, api, dispatcher, null, prefix, hostKey, Webhook, dataDir: data.Path);
        await using var b = await BotHarness.StartAsync(redis.Server, api, dispatcher, null, prefix, hostKey, Webhook, dataDir: data.Path);
        var replicas = new[] { a, b };

        const int n = 24;
        for (var i = 0; i < n; i++)
        {
            var update = FakeBotApi.TextUpdate(7100 + i, 7100 + i, $"m{i}", 1);
            update["update_id"] = 910_000 + i;

            // Telegram delivers to one replica and, as if the 200 were lost, again to the other.
            Assert.Equal(200, await replicas[i % 2].PostWebhookAsync(update, Secret));
            Assert.Equal(200, await replicas[(i + 1) % 2].PostWebhookAsync((System.Text.Json.Nodes.JsonObject)update.DeepClone(), Secret));
        }

        await api.WaitForAsync("sendMessage", c => c.Text?.StartsWith("re: m", StringComparison.Ordinal) == true, count: n);
        await WaitUntilAsync(async () => (await a.Get<UpdateInbox>().PendingAsync(default)).Count == 0);
        var answers = api.Calls("sendMessage").Select(c => c.Text).Where(t => t?.StartsWith("re: m", StringComparison.Ordinal) == true).ToList();
        Assert.Equal(n, answers.Count);
        Assert.Equal(n, answers.Distinct().Count());
        Assert.Equal(n, dispatcher.Requests.Count);
    }

    [Fact]
    public async Task A_live_replicas_update_is_left_alone_and_a_dead_or_stopped_replicas_update_is_taken_over_once()
    {
        await using var api = new FakeBotApi();
        using var data = new TempDir("cocoon-replicas");
        var (prefix, hostKey) = (BotHarness.NewPrefix(), BotHarness.NewHostKey());
        var release = new TaskCompletionSource();
        var first = new ScriptedDispatcher
        {
            Answer = r => ["A: " + r.Generation.Messages![^1].Content],
            BeforeAnswer = (r, ct) => r.Payer.Value switch
            {
                "user:7201" => release.Task.WaitAsync(ct),        // a slow answer, still running on A
                "user:7203" => Task.Delay(Timeout.Infinite, ct),   // running on A when A stops
                _ => Task.CompletedTask,
            },
        };
        var second = new ScriptedDispatcher { Answer = r => ["B: " + r.Generation.Messages![^1].Content] };
        var a = await BotHarness.StartAsync(redis.Server, api, first, null, prefix, hostKey, Webhook, dataDir: data.Path);
        await using var b = await BotHarness.StartAsync(redis.Server, api, second, null, prefix, hostKey, Webhook, dataDir: data.Path);
        var inboxB = b.Get<UpdateInbox>();
        try
        {
            // 1. A is answering 7201 slowly. B sweeps the inbox, now and after more than a lease: A renews its lease, so
            // B never takes the update (without renewal the lease would be gone by the second look).
            var slow = FakeBotApi.TextUpdate(7201, 7201, "slow", 1);
            slow["update_id"] = 920_001;
            Assert.Equal(200, await a.PostWebhookAsync(slow, Secret));
            await WaitUntilAsync(() => Task.FromResult(first.Requests.Count == 1));
            Assert.DoesNotContain(await inboxB.ClaimPendingAsync(default), u => u.Id == 920_001);
            await Task.Delay(Lease + TimeSpan.FromSeconds(2));
            Assert.DoesNotContain(await inboxB.ClaimPendingAsync(default), u => u.Id == 920_001);
            release.SetResult();
            await api.WaitForAsync("sendMessage", c => c.Text == "A: slow");

            // 2. A is answering 7203 when it stops gracefully: it gives the lease up, and B takes the update without waiting it out.
            var cut = FakeBotApi.TextUpdate(7203, 7203, "cut short", 1);
            cut["update_id"] = 920_003;
            Assert.Equal(200, await a.PostWebhookAsync(cut, Secret));
            await WaitUntilAsync(() => Task.FromResult(first.Requests.Any(r => r.Payer.Value == "user:7203")));
            await a.DisposeAsync();
            await api.WaitForAsync("sendMessage", c => c.Text == "B: cut short");

            // 3. A replica accepted 7202 and died before handling it (an inbox with no process behind it: nobody renews its
            // lease); once the lease runs out, B's sweep takes it.
            var orphan = FakeBotApi.TextUpdate(7202, 7202, "orphan", 1);
            orphan["update_id"] = 920_002;
            var parsed = System.Text.Json.JsonSerializer.Deserialize<global::Telegram.Bot.Types.Update>(orphan.ToJsonString(), global::Telegram.Bot.JsonBotAPI.Options)!;
            var dead = ActivatorUtilities.CreateInstance<UpdateInbox>(b.Services);
            Assert.True(await dead.AcceptAsync(parsed, default));
            Assert.DoesNotContain(await inboxB.ClaimPendingAsync(default), u => u.Id == 920_002); // the dead replica's lease is still live
            await api.WaitForAsync("sendMessage", c => c.Text == "B: orphan");
        }
        finally
        {
            release.TrySetResult();
            await a.DisposeAsync();
        }

        await WaitUntilAsync(async () => (await inboxB.PendingAsync(default)).Count == 0);
        Assert.Single(api.Calls("sendMessage"), c => c.Text == "A: slow");
        Assert.Single(api.Calls("sendMessage"), c => c.Text == "B: orphan");
        Assert.Single(api.Calls("sendMessage"), c => c.Text == "B: cut short");
        Assert.DoesNotContain(api.Calls("sendMessage"), c => c.Text is "B: slow" or "A: orphan" or "A: cut short");
    }

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }
}
