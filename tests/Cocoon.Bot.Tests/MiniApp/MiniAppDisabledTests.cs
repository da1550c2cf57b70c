using System.Net;
using System.Text.Json.Nodes;
using Cocoon.Bot.Tests.Api;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>The gateway tests' host has no bot token and no TON services: the Mini App says so instead of failing start-up.</summary>
public sealed class MiniAppDisabledTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    [Fact]
    public async Task Without_a_bot_token_the_api_answers_503_naming_the_setting()
    {
        using var client = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("tma", "user=%7B%22id%22%3A1%7D&auth_date=1&hash=00");
        using var response = await client.GetAsync("miniapp/api/me");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("miniapp_disabled", body["error"]!["code"]!.GetValue<string>());
        Assert.Contains("TELEGRAM_BOT_TOKEN", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains(fixture.Gateway.Logs.Lines, m => m.Contains("Mini App is disabled", StringComparison.Ordinal));
    }
}
