using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.MiniApp;

namespace Cocoon.Bot.Tests.Fuzz;

/// <summary>
/// Seeded requests to every Mini App endpoint (the real gateway with TON and ton_proof on): init data that is random,
/// mutated, or correctly signed around an odd <c>user</c>, and mutated JSON bodies. None gets a 5xx, and every error is
/// the Mini App's JSON error with a code.
/// </summary>
public sealed class MiniAppFuzzTests(MiniAppFixture fixture) : IClassFixture<MiniAppFixture>
{
    private static readonly (string Method, string Path)[] Endpoints =
    [
        ("GET", "me"), ("GET", "workers"), ("POST", "topup/ton"), ("POST", "ton-proof/payload"), ("POST", "ton-proof/check"), ("POST", "me"), ("GET", "nope"),
    ];

    private static readonly string[] Bodies =
    [
        """{"amount_nanotons":1000000000}""",
        """{"address":"0:83dfd552e63729b472fcbcc8c45ebcc6691702558b68ec7527e1ba403a0f31a8","network":"-239","public_key":"aa","walletStateInit":"te6cckEBAQEAAgAAAEysuc0=","proof":{"timestamp":1800000000,"domain":{"lengthBytes":15,"value":"app.example.org"},"signature":"AAAA","payload":"00","state_init":"te6cckEBAQEAAgAAAEysuc0="}}""",
    ];

    private static readonly string[] Names = ["amount_nanotons", "address", "network", "public_key", "walletStateInit", "proof", "timestamp", "domain", "value", "lengthBytes", "signature", "payload", "state_init"];

    [Fact]
    public async Task No_mini_app_request_gets_a_5xx()
    {
        var valid = InitDataSigning.SignUser(MiniAppFixture.BotToken, """{"id":616161,"first_name":"Fuzz"}""");
        var statuses = new Dictionary<int, int>();
        await Cocoon.Testing.Fuzz.RunAsync(seed: 1431, cases: 300, async fuzz =>
        {
            var user = new JsonObject { ["id"] = fuzz.Next(1, 1_000_000), ["first_name"] = "F" }.ToJsonString();
            var initData = fuzz.Next(8) switch
            {
                0 => fuzz.Text(60),
                1 => fuzz.MutateText(valid),
                2 => InitDataSigning.SignUser(MiniAppFixture.BotToken, fuzz.MutateJson(user, ["id", "first_name", "username"])),
                3 => InitDataSigning.SignUser(MiniAppFixture.BotToken, user, DateTimeOffset.UtcNow.AddSeconds(-fuzz.Pick<int>([-3600, 7200, 0]))),
                _ => valid,
            };
            var (method, path) = fuzz.Pick(Endpoints);
            var body = Encoding.UTF8.GetBytes(fuzz.Next(4) switch
            {
                0 => fuzz.JsonValue(3)?.ToJsonString() ?? "null",
                _ => fuzz.MutateJson(fuzz.Pick(Bodies), Names),
            });
            var sent = method != "GET" || fuzz.Chance(0.3) ? body : [];
            var headers = new List<string>
            {
                "Host: localhost",
                "Connection: close",
                (fuzz.Chance(0.9) ? "Authorization: tma " : "Authorization: ") + HeaderSafe(initData),
                "Content-Type: application/json",
                "Content-Length: " + sent.Length.ToString(CultureInfo.InvariantCulture),
            };
            var request = RawHttp.Request(method, "/miniapp/api/" + path, headers, sent);
            fuzz.Show(Encoding.Latin1.GetString(request));
            var response = await RawHttp.SendAsync(fixture.BaseAddress, request);
            var status = response.Status ?? 0;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.True(status < 500, $"got {status}: {response.BodyText}");
            if (status >= 400 && response.IsJson)
            {
                using var parsed = JsonDocument.Parse(response.Body);
                Assert.Equal(JsonValueKind.String, parsed.RootElement.GetProperty("error").GetProperty("code").ValueKind);
            }
        });

        Assert.DoesNotContain(fixture.Logs.Lines, l => l.Contains("[3351]", StringComparison.Ordinal));
        Assert.True(statuses.Keys.Any(s => s is >= 200 and < 300) && statuses.Keys.Any(s => s == 400) && statuses.Keys.Any(s => s == 401),
            "the fuzzer reached answers, bad bodies and refused init data: " + string.Join(", ", statuses.Select(s => $"{s.Key}x{s.Value}")));
    }

    /// <summary>A header value can carry any byte but a line break (which would end the header, not fuzz it).</summary>
    private static string HeaderSafe(string value) => value.Replace('\r', ' ').Replace('\n', ' ');
}
