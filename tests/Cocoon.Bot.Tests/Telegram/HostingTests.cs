using System.Text;
using System.Text.Json.Nodes;
using Cocoon.Bot.Telegram;
using Cocoon.Bot.Telegram.Transport;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Testing;
using global::Telegram.Bot;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Cocoon.Bot.Tests.Telegram;

public sealed class HostingTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    private readonly RedisServer redis = fixture.Server;

    [Fact]
    public void Without_a_token_the_bot_is_off_and_nothing_of_it_is_registered()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.AddTelegram();
        using var host = builder.Build();
        Assert.Null(host.Services.GetService<ITelegramBotClient>());
        Assert.Contains(host.Services.GetServices<IHostedService>(), s => s.GetType().Name == "TelegramOffNotice");
    }

    [Fact]
    public void Invalid_settings_name_the_setting_and_the_fix()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Telegram:BotToken"] = "no-colon",
            ["Telegram:Mode"] = "Webhook",
        });
        builder.AddTelegram();
        using var host = builder.Build();
        var ex = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<TelegramOptions>>().Value);
        Assert.Contains("TELEGRAM_BOT_TOKEN", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Telegram:WebhookSecret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_restart_neither_loses_nor_repeats_an_update()
    {
        await using var api = new FakeBotApi();
        var prefix = BotHarness.NewPrefix();
        var hostKey = BotHarness.NewHostKey();
        var first = new ScriptedDispatcher
        {
            Answer = r => ["answer to " + r.Generation.Messages![^1].Content],
            // Chat 602's answer is still running when the bot stops.
            BeforeAnswer = (r, ct) => r.Payer.Value == "user:602" ? Task.Delay(Timeout.Infinite, ct) : Task.CompletedTask,
        };
                using var data = new TempDir("cocoon-bot");
        var bot1 = await BotHarness.StartAsync(redis, api, first, null, prefix, hostKey, dataDir: data.Path);
        api.Enqueue(FakeBotApi.TextUpdate(601, 601, "one", 1));
        api.Enqueue(FakeBotApi.TextUpdate(602, 602, "two", 1));
        api.Enqueue(FakeBotApi.TextUpdate(603, 603, "three", 1));
        await api.WaitForAsync(cs => cs.Count(c => c.Method == "sendMessage") == 2 && first.Requests.Count == 3);
        await bot1.DisposeAsync();

        api.Enqueue(FakeBotApi.TextUpdate(604, 604, "four", 1)); // arrives while the bot is down
        var second = new ScriptedDispatcher { Answer = r => ["answer to " + r.Generation.Messages![^1].Content] };
        await using var bot2 = await BotHarness.StartAsync(redis, api, second, null, prefix, hostKey, dataDir: data.Path);
        await api.WaitForAsync(cs => cs.Count(c => c.Method == "sendMessage") == 4);

        // Done means nothing left to repeat: Telegram holds no unconfirmed update and the inbox has nothing pending.
        await WaitUntilAsync(async () => api.Unconfirmed == 0 && (await bot2.Get<UpdateInbox>().PendingAsync(default)).Count == 0);
        var answers = api.Calls("sendMessage").Select(c => c.Text).Order().ToList();
        Assert.Equal(["answer to four", "answer to one", "answer to three", "answer to two"], answers);
        Assert.Equal(["user:602", "user:604"], second.Requests.Select(r => r.Payer.Value).Order());
        Assert.Empty(await bot2.Get<UpdateInbox>().PendingAsync(default));
        Assert.Equal(0, api.Unconfirmed);
    }

    [Fact]
    public async Task Flood_limits_wait_retry_after_and_server_errors_are_retried()
    {
        await using var api = new FakeBotApi();
        api.FailNext("sendMessage", 429, "Too Many Requests: retry after 2", retryAfter: 2);
        api.FailNext("sendMessage", 502, "Bad Gateway");
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(611, 611, "hi", 1));
        await api.WaitForAsync("sendMessage", c => true, count: 3);
        var attempts = api.Calls("sendMessage");
        Assert.Equal(3, attempts.Count);
        Assert.True(attempts[1].At - attempts[0].At >= TimeSpan.FromSeconds(1.9), $"retried after {attempts[1].At - attempts[0].At}");
        Assert.All(attempts, a => Assert.Equal("Hello, world!", a.Text));
    }

    [Fact]
    public async Task A_blocked_chat_gets_nothing_more_until_the_user_writes_again()
    {
        await using var api = new FakeBotApi();
        api.Unsupported("sendMessageDraft");
        api.FailNext("sendMessage", 403, "Forbidden: bot was blocked by the user");
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(621, 621, "hi", 1));
        await api.WaitForAsync("sendMessage", c => c.ChatId == 621);
        var blocked = bot.Get<BlockedChats>();
        await WaitUntilAsync(() => blocked.IsBlocked(621));
        await bot.Get<Cocoon.Bot.Telegram.Chats.ChatSender>().SendAsync(621, "anything", default);
        Assert.Single(api.Calls("sendMessage"));

        api.Enqueue(FakeBotApi.TextUpdate(621, 621, "I'm back", 2));
        await api.WaitForAsync("editMessageText", c => c.Text == "Hello, world!");
        Assert.False(blocked.IsBlocked(621));
    }

    [Fact]
    public async Task An_update_whose_handler_throws_is_skipped_and_the_chat_goes_on()
    {
        await using var api = new FakeBotApi();
        api.Unsupported("sendMessageDraft");
        api.FailNext("editMessageText", 400, "Bad Request: message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message");
        var dispatcher = new ScriptedDispatcher
        {
            BeforeAnswer = (r, _) => r.Generation.Messages![^1].Content == "boom" ? throw new InvalidOperationException("handler failure") : Task.CompletedTask,
            PieceDelay = TimeSpan.FromMilliseconds(250),
        };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(631, 631, "boom", 1));
        api.Enqueue(FakeBotApi.TextUpdate(631, 631, "fine", 2));
        await api.WaitForAsync(cs => cs.Any(c => c.Text == "Hello, world!" && c.Method is "sendMessage" or "editMessageText"));
        await WaitUntilAsync(async () => (await bot.Get<UpdateInbox>().PendingAsync(default)).Count == 0);
    }

    [Fact]
    public async Task Webhook_deliveries_need_the_secret_and_a_repeated_update_is_handled_once()
    {
        await using var api = new FakeBotApi();
        const string secret = "webhook-secret-for-tests-0123456789";
        await using var bot = await BotHarness.StartAsync(redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?>
            {
                ["Telegram:Mode"] = "Webhook",
                ["Telegram:WebhookUrl"] = "https://bot.example.org/telegram/webhook",
                ["Telegram:WebhookSecret"] = secret,
            });
        await api.WaitForAsync("setWebhook", c => c.Body["secret_token"]!.GetValue<string>() == secret);

        var update = FakeBotApi.TextUpdate(641, 641, "hello", 1);
        update["update_id"] = 900_001;
        Assert.Equal(StatusCodes.Status401Unauthorized, await bot.PostWebhookAsync(update, "wrong-secret-wrong-secret-000000"));
        Assert.Equal(StatusCodes.Status401Unauthorized, await bot.PostWebhookAsync(update, secret: null));
        Assert.Equal(StatusCodes.Status401Unauthorized, await bot.PostWebhookAsync(update, ""));
        Assert.Empty(await bot.Get<UpdateInbox>().PendingAsync(default));
        Assert.Equal(StatusCodes.Status200OK, await bot.PostWebhookAsync(update, secret));
        Assert.Equal(StatusCodes.Status200OK, await bot.PostWebhookAsync(update, secret));
        await api.WaitForAsync("sendMessage", c => c.Text == "Hello, world!");

        // The update was handled and left the inbox: a second handling would have had to happen before that.
        await WaitUntilAsync(async () => (await bot.Get<UpdateInbox>().PendingAsync(default)).Count == 0);
        Assert.Single(api.Calls("sendMessage"), c => c.Text == "Hello, world!");
        Assert.Empty(api.Calls("getUpdates"));
    }

    [Fact]
    public async Task One_chat_is_handled_in_order_while_other_chats_run_in_parallel()
    {
        await using var api = new FakeBotApi();
        var releaseSlowChat = new TaskCompletionSource();
        var running = 0;
        var overlapped = false;
        var dispatcher = new ScriptedDispatcher
        {
            Answer = r => ["re: " + r.Generation.Messages![^1].Content],
            BeforeAnswer = async (r, ct) =>
            {
                if (r.Payer.Value == "user:651")
                {
                    overlapped |= Interlocked.Increment(ref running) > 1;
                    // Chat 651 can only go on once chat 652 was answered: a serial bot would deadlock here.
                    await releaseSlowChat.Task.WaitAsync(ct);
                    await Task.Delay(50, ct);
                    Interlocked.Decrement(ref running);
                }
            },
        };
        await using var bot = await BotHarness.StartAsync(redis, api, dispatcher, null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        for (var i = 1; i <= 3; i++)
        {
            api.Enqueue(FakeBotApi.TextUpdate(651, 651, $"m{i}", i));
        }

        api.Enqueue(FakeBotApi.TextUpdate(652, 652, "other chat", 1));
        await api.WaitForAsync("sendMessage", c => c.Text == "re: other chat");
        releaseSlowChat.SetResult();
        await api.WaitForAsync("sendMessage", c => c.ChatId == 651, count: 3);

        Assert.Equal(["re: m1", "re: m2", "re: m3"], api.Calls("sendMessage").Where(c => c.ChatId == 651).Select(c => c.Text));
        Assert.False(overlapped);
    }

    private static Task WaitUntilAsync(Func<bool> condition) => WaitUntilAsync(() => Task.FromResult(condition()));

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(50);
        }
    }
}
