using System.Text.Json.Nodes;
using Cocoon.Bot.MiniApp;
using Cocoon.Bot.Telegram.Widgets;
using Cocoon.Ledger.Accounts;
using Cocoon.Ledger.Chain;
using Cocoon.Ledger.LocalChain;
using Cocoon.Ledger.Ton;
using Cocoon.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>The local chain (@ton/sandbox behind toncenter's HTTP API) and a Redis, shared by the widget tests.</summary>
public sealed class WidgetChainFixture : IAsyncLifetime
{
    public RedisServer Redis { get; } = new();

    public LocalChainProcess Chain { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        Chain = await Hosting.LocalStack.StartChainAsync(timeout.Token);
    }

    public async Task DisposeAsync()
    {
        if (Chain is not null)
        {
            await Chain.DisposeAsync();
        }

        Redis.Dispose();
    }
}

/// <summary>
/// /topup's TON widget (Bot API 10.4) against the fake Bot API speaking the documented JSON: sendWidget with the
/// widget's HTML, answerWidgetQuery, widget_query updates (WidgetQueryTypeData with a TonWalletCard,
/// WidgetQueryTypeSentTransaction). The bot runs with its TON services on the local chain and the deposit watcher.
/// </summary>
public sealed class WidgetTopUpTests(WidgetChainFixture fixture) : IClassFixture<WidgetChainFixture>
{
    private static readonly NodeFolder Wallets = new(Path.Combine("tests", "Cocoon.Bot.Tests", "MiniApp", "node"), Path.Combine("@ton", "ton"));

    [Fact]
    public async Task Topup_in_a_private_chat_keeps_Stars_first_and_sends_a_widget_with_the_linked_wallet_and_the_deposit_request()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api);
        const string linked = "0:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12";
        await bot.Get<WalletLinks>().LinkAsync(user, linked, CancellationToken.None);

        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/topup", 1));
        var calls = await api.WaitForAsync("sendWidget", c => c.ChatId == user);

        // Stars stay the default: the Stars offer is the first answer, the widget comes under it.
        var stars = calls.First(c => c.Method is "sendMessage" or "sendWidget");
        Assert.Equal("sendMessage", stars.Method);
        Assert.Contains("stars:", stars.Body["reply_markup"]!.ToJsonString(), StringComparison.Ordinal);

        var widget = calls.Single(c => c.Method == "sendWidget");
        Assert.True(widget.Body["allow_queries"]!.GetValue<bool>());
        var html = widget.Body["html"]!.GetValue<string>();
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(html), 1, TopUpWidgetHtml.MaxBytes);
        Assert.InRange(TopUpWidgetHtml.CompressedSize(html), 1, TopUpWidgetHtml.MaxCompressedBytes);
        Assert.Contains(linked, html, StringComparison.Ordinal);

        // The transfer the widget offers: to the network's deposit address, with a comment of an invoice for this user.
        var wallet = bot.Get<NetworkWallet>();
        var request = RequestIn(html);
        var message = Assert.Single(request["messages"]!.AsArray())!;
        Assert.Equal(wallet.DepositAddressText, message["address"]!.GetValue<string>());
        Assert.Equal("1000000000", message["amount"]!.GetValue<string>());
        var comment = JsonNode.Parse(widget.Body["chat_data"]!.GetValue<string>())!["comment"]!.GetValue<string>();
        Assert.Equal(TonMessages.Comment(comment).ToBocBase64(), message["payload"]!.GetValue<string>());
        Assert.Contains($"ton://transfer/{wallet.DepositAddressText}?amount=1000000000&amp;text={comment}", html, StringComparison.Ordinal);
        Assert.Contains(comment, widget.Body["caption"]!.GetValue<string>(), StringComparison.Ordinal);

        // And the bot asks Telegram for the widget's queries.
        Assert.Contains(api.Calls("getUpdates"), c => c.Body["allowed_updates"]!.AsArray().Any(t => t!.GetValue<string>() == "widget_query"));
    }

    [Fact]
    public async Task A_top_up_query_from_the_widget_is_answered_and_the_transfer_the_wallet_sends_is_credited_by_the_deposit_watcher()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api);
        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/topup", 1));
        var widgetMessage = (await api.WaitForAsync("sendWidget", c => c.ChatId == user)).Single(c => c.Method == "sendWidget");
        const string card = "UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG";

        // The user taps Pay: the widget asks the bot, with the user's TON wallet card along (WidgetQueryTypeData.wallet_card).
        api.Enqueue(FakeBotApi.WidgetQueryUpdate(user, user, 1000, "wq-topup-1", FakeBotApi.DataQueryType(card, 3_000_000_000), TopUpWidgets.TopUpQuery));
        var answer = (await api.WaitForAsync("answerWidgetQuery", c => c.Body["widget_query_id"]!.GetValue<string>() == "wq-topup-1"))
            .Single(c => c.Method == "answerWidgetQuery" && c.Body["widget_query_id"]!.GetValue<string>() == "wq-topup-1");
        var data = JsonNode.Parse(answer.Body["data"]!.GetValue<string>())!;
        Assert.Equal(card, data["wallet"]!.GetValue<string>());
        var request = data["request"]!.AsObject();
        Assert.Equal(bot.Get<NetworkWallet>().DepositAddressText, request["messages"]![0]!["address"]!.GetValue<string>());
        Assert.NotEqual(RequestIn(widgetMessage.Body["html"]!.GetValue<string>())["messages"]![0]!["payload"]!.GetValue<string>(),
            request["messages"]![0]!["payload"]!.GetValue<string>()); // a fresh invoice (comment) per request

        // The user's wallet signs and sends exactly that request to the chain, and the widget reports the sent transaction.
        var ledger = bot.Ledger;
        var before = await ledger.GetBalanceAsync(AccountId.User(user), CancellationToken.None);
        var paid = await PayAsync(request);
        api.Enqueue(FakeBotApi.WidgetQueryUpdate(user, user, 1000, "wq-sent-1",
            FakeBotApi.SentTransactionQueryType(paid["address"]!.GetValue<string>(), paid["msgHash"]!.GetValue<string>()), "sent"));
        var ack = (await api.WaitForAsync("answerWidgetQuery", c => c.Body["widget_query_id"]!.GetValue<string>() == "wq-sent-1"))
            .Single(c => c.Method == "answerWidgetQuery" && c.Body["widget_query_id"]!.GetValue<string>() == "wq-sent-1");
        Assert.Equal("sent", JsonNode.Parse(ack.Body["data"]!.GetValue<string>())!["status"]!.GetValue<string>());

        // The deposit watcher credits the transfer to this Telegram user, as for any deposit with the invoice's comment.
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (await ledger.GetBalanceAsync(AccountId.User(user), CancellationToken.None) < before + 1_000_000_000 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200);
        }

        // Exactly the transfer, once.
        Assert.Equal(before + 1_000_000_000, await ledger.GetBalanceAsync(AccountId.User(user), CancellationToken.None));
    }

    [Fact]
    public async Task A_server_without_sendWidget_leaves_the_plain_Stars_answer_and_unknown_widget_queries_still_get_an_answer()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        await using var api = new FakeBotApi();
        api.Unsupported("sendWidget");
        await using var bot = await StartAsync(api);

        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/topup", 1));
        await api.WaitForAsync("sendWidget", c => c.ChatId == user);
        var stars = Assert.Single(api.Calls("sendMessage"), c => c.ChatId == user);
        Assert.StartsWith("Add credit with Telegram Stars", stars.Text, StringComparison.Ordinal);

        // The chat goes on as before: the next command is answered.
        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/balance", 2));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.StartsWith("Your balance", StringComparison.Ordinal));

        // A query the bot does not understand (the data comes from the user's device) is answered empty, never left to time out.
        api.Enqueue(FakeBotApi.WidgetQueryUpdate(user, user, 1000, "wq-odd-1", FakeBotApi.DataQueryType(), "something else"));
        var answer = (await api.WaitForAsync("answerWidgetQuery", c => c.Body["widget_query_id"]!.GetValue<string>() == "wq-odd-1")).Single(c => c.Method == "answerWidgetQuery");
        Assert.Null(answer.Body["data"]);
    }

    [Fact]
    public async Task In_webhook_mode_widget_queries_are_asked_for_kept_sealed_in_the_inbox_with_their_fields_and_answered()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        const string secret = "widget-webhook-secret-0123456789abcdef";
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(fixture.Redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(),
            new Dictionary<string, string?>
            {
                ["Telegram:Mode"] = "Webhook",
                ["Telegram:WebhookUrl"] = "https://bot.example.org/telegram/webhook",
                ["Telegram:WebhookSecret"] = secret,
            });
        var hook = (await api.WaitForAsync("setWebhook", c => c.Body["secret_token"]?.GetValue<string>() == secret)).Single(c => c.Method == "setWebhook");
        Assert.Contains("widget_query", hook.Body["allowed_updates"]!.AsArray().Select(t => t!.GetValue<string>()));

        // Delivered by Telegram's POST, it is answered (empty: the bot does not know "hello").
        var delivered = FakeBotApi.WidgetQueryUpdate(user, user, 1000, "wq-hook-2", FakeBotApi.DataQueryType(), "hello");
        delivered["update_id"] = 424243;
        Assert.Equal(200, await bot.PostWebhookAsync(delivered, secret));
        await api.WaitForAsync("answerWidgetQuery", c => c.Body["widget_query_id"]!.GetValue<string>() == "wq-hook-2");

        // The inbox keeps what the library's Update does not know (widget_query) through sealing and reading back
        // (with the bot stopped, so no sweep hands the update out meanwhile).
        await bot.StopAsync();
        var update = FakeBotApi.WidgetQueryUpdate(user, user, 1000, "wq-hook-1", FakeBotApi.DataQueryType("UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG", 5), "hello");
        update["update_id"] = 424242;
        var inbox = bot.Get<Cocoon.Bot.Telegram.Updates.UpdateInbox>();
        var read = System.Text.Json.JsonSerializer.Deserialize<Cocoon.Bot.Telegram.Updates.ExtendedUpdate>(update.ToJsonString(), global::Telegram.Bot.JsonBotAPI.Options)!;
        Assert.True(await inbox.AcceptAsync(read, CancellationToken.None));
        var pending = Assert.IsType<Cocoon.Bot.Telegram.Updates.ExtendedUpdate>(Assert.Single(await inbox.PendingAsync(CancellationToken.None), u => u.Id == 424242));
        Assert.Equal("wq-hook-1", pending.WidgetQuery!.Id);
        Assert.Equal("UQBvW8Z5huBkMJYdnfAEM5JqTNkuWX3diqYENkWsIL0XggGG", pending.WidgetQuery.Type.WalletCard!.Address);
        Assert.Equal(user, pending.WidgetQuery.Chat!.Id);
    }

    [Fact]
    public async Task Without_TON_the_topup_answer_is_Stars_only()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        await using var api = new FakeBotApi();
        await using var bot = await BotHarness.StartAsync(fixture.Redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey());

        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/topup", 1));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.StartsWith("Add credit with Telegram Stars", StringComparison.Ordinal));
        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/help", 2));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text == Cocoon.Bot.Telegram.Chats.PrivateChatHandler.Help);
        Assert.Empty(api.Calls("sendWidget"));
    }

    [Fact]
    public async Task The_widget_is_off_by_default_so_with_TON_the_topup_answer_is_Stars_only()
    {
        var user = Random.Shared.NextInt64(1_000_000, 9_000_000_000);
        await using var api = new FakeBotApi();
        await using var bot = await StartAsync(api, widget: null);

        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/topup", 1));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text!.StartsWith("Add credit with Telegram Stars", StringComparison.Ordinal));
        api.Enqueue(FakeBotApi.TextUpdate(user, user, "/help", 2));
        await api.WaitForAsync("sendMessage", c => c.ChatId == user && c.Text == Cocoon.Bot.Telegram.Chats.PrivateChatHandler.Help);
        Assert.Empty(api.Calls("sendWidget"));
    }

    /// <param name="widget">Telegram:TopUpWidget as configured; null leaves the default.</param>
    private Task<BotHarness> StartAsync(FakeBotApi api, bool? widget = true)
    {
        var settings = new Dictionary<string, string?>(fixture.Chain.ConfigurationValues)
        {
            ["Ton:DepositPollInterval"] = "00:00:00.200",
        };
        if (widget is { } on)
        {
            settings["Telegram:TopUpWidget"] = on ? "true" : "false";
        }

        var ton = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return BotHarness.StartAsync(fixture.Redis, api, new ScriptedDispatcher(), null, BotHarness.NewPrefix(), BotHarness.NewHostKey(), settings, services =>
        {
            services.AddTonChain(ton).AddTonBackgroundServices();
            services.AddSingleton<WalletLinks>();
        });
    }

    private static JsonObject RequestIn(string html)
    {
        var start = html.IndexOf($"id=\"{TopUpWidgetHtml.RequestElementId}\">", StringComparison.Ordinal);
        Assert.True(start >= 0, "the widget carries its transfer request");
        start = html.IndexOf('>', start) + 1;
        var end = html.IndexOf("</script>", start, StringComparison.Ordinal);
        return JsonNode.Parse(html[start..end])!.AsObject();
    }

    private async Task<JsonObject> PayAsync(JsonObject request)
    {
        var input = new JsonObject { ["chainUrl"] = fixture.Chain.BaseUrl.ToString(), ["request"] = request.DeepClone() };
        var (exitCode, stdout, stderr) = await Wallets.RunAsync("widget-pay.mjs", stdin: input.ToJsonString(), timeout: TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node widget-pay.mjs failed (exit {exitCode}): {stdout} {stderr}");
        return JsonNode.Parse(stdout)!.AsObject();
    }
}
