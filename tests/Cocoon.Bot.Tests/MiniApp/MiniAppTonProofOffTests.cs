using System.Net;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// A gateway with a chain but no Mini App domain (as `./cocoon up` runs) starts, and wallet login answers 503 naming
/// the setting; a domain given as a URL stops start-up with a message that names the setting and the fix.
/// </summary>
public sealed class MiniAppTonProofOffTests
{
    private static Dictionary<string, string?> Settings() => new()
    {
        ["MiniApp:BotToken"] = MiniAppFixture.BotToken,
        ["Ton:ApiUrl"] = "http://127.0.0.1:9/",
        ["Ton:WalletSeed"] = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)),
    };

    [Fact]
    public async Task Without_allowed_domains_wallet_login_is_503_naming_the_setting()
    {
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-proof-off");
        await using var gateway = new GatewayFactory(redis.Endpoint, data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), new ScriptedDispatcher(), Settings());
        var address = gateway.Start();
        using var client = new HttpClient { BaseAddress = new Uri(address, "/miniapp/api/"), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue(
            "tma", await NodeInitDataSigner.SignAsync(MiniAppFixture.BotToken, 7001, DateTimeOffset.UtcNow.AddMinutes(-1)));

        foreach (var path in new[] { "ton-proof/payload", "ton-proof/check" })
        {
            using var response = await client.PostAsync(path, new StringContent("{}", System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;
            Assert.Equal("ton_proof_not_configured", error["code"]!.GetValue<string>());
            Assert.Contains("Ton:Proof:AllowedDomains", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_url_as_allowed_domain_stops_start_up_naming_the_setting()
    {
        using var redis = new RedisServer();
        using var data = new TempDir("cocoon-proof-bad");
        var settings = Settings();
        settings["Ton:Proof:AllowedDomains:0"] = "https://app.example.org/";
        await using var gateway = new GatewayFactory(redis.Endpoint, data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), new ScriptedDispatcher(), settings);
        var failure = Assert.ThrowsAny<Exception>(() => gateway.Start());
        var messages = string.Join(" | ", Flatten(failure).Select(e => e.Message));
        Assert.Contains("Ton:Proof:AllowedDomains:0", messages, StringComparison.Ordinal);
        Assert.Contains("app.example.org", messages, StringComparison.Ordinal);
    }

    private static IEnumerable<Exception> Flatten(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            yield return x;
            if (x is AggregateException aggregate)
            {
                foreach (var inner in aggregate.InnerExceptions.SelectMany(Flatten))
                {
                    yield return inner;
                }
            }
        }
    }
}
