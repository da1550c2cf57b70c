using System.Net;
using System.Text;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Telegram;
using Cocoon.Bot.Telegram.Updates;
using Cocoon.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Cocoon.Bot.Tests.Telegram;

/// <summary>The bot inside the real gateway host (AddCocoonGateway + AddTelegram), webhook mode, over Kestrel.</summary>
public sealed class GatewayCompositionTests(RedisFixture fixture) : IClassFixture<RedisFixture>
{
    [Fact]
    public async Task The_gateway_host_serves_the_webhook_and_the_bot_answers_through_its_services()
    {
        await using var api = new FakeBotApi();
        using var data = new TempDir("cocoon-gw-bot");
        const string secret = "composition-secret-0123456789abcdef";
        var port = RedisServer.FreePort();
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Endpoint"] = fixture.Server.Endpoint,
            ["Redis:Prefix"] = BotHarness.NewPrefix() + ":",
            ["Cocoon:DataDir"] = data.Path,
            ["Gateway:Url"] = $"http://127.0.0.1:{port}",
            ["Gateway:ApiKey"] = "sk-cocoon-composition-test-key-0123456789",
            ["Telegram:BotToken"] = FakeBotApi.Token,
            ["Telegram:ApiBaseUrl"] = api.BaseUrl,
            ["Telegram:RedisPrefix"] = BotHarness.NewPrefix(),
            ["Telegram:Mode"] = "Webhook",
            ["Telegram:WebhookUrl"] = "https://bot.example.org/telegram/webhook",
            ["Telegram:WebhookSecret"] = secret,
            ["Telegram:HostKey"] = BotHarness.NewHostKey(),
        });
        builder.AddCocoonGateway();
        builder.AddTelegram();
        await using var app = builder.Build();
        app.MapCocoonGateway();
        app.MapTelegram();
        await app.StartAsync();

        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
        var update = FakeBotApi.TextUpdate(1101, 1101, "hello gateway", 1);
        update["update_id"] = 5;
        using var wrong = new StringContent(update.ToJsonString(), Encoding.UTF8, "application/json");
        wrong.Headers.Add(WebhookEndpoint.SecretHeader, "not-the-secret-not-the-secret-00");
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("/telegram/webhook", wrong)).StatusCode);

        using var right = new StringContent(update.ToJsonString(), Encoding.UTF8, "application/json");
        right.Headers.Add(WebhookEndpoint.SecretHeader, secret);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("/telegram/webhook", right)).StatusCode);

        // No worker runs here: the real dispatcher serves no model, and the bot says so instead of failing.
        await api.WaitForAsync("sendMessage", c => c.ChatId == 1101 && c.Text!.StartsWith("No worker is online", StringComparison.Ordinal));
        Assert.Contains(api.Calls("setWebhook"), c => c.Body["url"]!.GetValue<string>() == "https://bot.example.org/telegram/webhook");
        await app.StopAsync();
    }
}
