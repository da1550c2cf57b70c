using System.Text;
using System.Text.Json;
using Cocoon.Bot.Tests.Hosting;

namespace Cocoon.Bot.Tests.MiniApp;

/// <summary>
/// Correctly signed init data whose <c>user</c> is not what Telegram sends (an id as a string, a float, no id) is
/// refused as invalid init data on every endpoint, and a body whose chunked framing is broken is a 400: never a 500.
/// </summary>
public sealed class MiniAppBadInputTests(MiniAppFixture fixture) : IClassFixture<MiniAppFixture>
{
    private static readonly (string Method, string Path)[] Endpoints =
    [
        ("GET", "me"), ("GET", "workers"), ("POST", "topup/ton"), ("POST", "ton-proof/payload"), ("POST", "ton-proof/check"),
    ];

    [Theory]
    [InlineData("""{"id":"424242","first_name":"Ann"}""")]
    [InlineData("""{"id":424242.5}""")]
    [InlineData("""{"id":1e300}""")]
    [InlineData("""{"id":null}""")]
    [InlineData("""{"first_name":"Ann"}""")]
    [InlineData("""["id",1]""")]
    [InlineData("""{"id":-5}""")]
    public async Task Signed_init_data_with_a_malformed_user_is_a_401_on_every_endpoint(string user)
    {
        using var client = fixture.Client(InitDataSigning.SignUser(MiniAppFixture.BotToken, user));
        foreach (var (method, path) in Endpoints)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), path);
            if (method == "POST")
            {
                request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
            }

            using var response = await client.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            Assert.True((int)response.StatusCode == 401, $"{method} {path}: {(int)response.StatusCode} {text}");
            using var body = JsonDocument.Parse(text);
            Assert.Equal("invalid_init_data", body.RootElement.GetProperty("error").GetProperty("code").GetString());
            Assert.Contains("'id'", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("topup/ton")]
    [InlineData("ton-proof/check")]
    public async Task A_chunk_size_that_overflows_is_a_400(string path)
    {
        var initData = InitDataSigning.SignUser(MiniAppFixture.BotToken, """{"id":515151,"first_name":"Bo"}""");
        var request = RawHttp.Request("POST", "/miniapp/api/" + path,
            ["Host: localhost", "Authorization: tma " + initData, "Content-Type: application/json", "Transfer-Encoding: chunked", "Connection: close"],
            "FFFFFFFF\r\n{}\r\n0\r\n\r\n"u8);
        var response = await RawHttp.SendAsync(fixture.BaseAddress, request);
        Assert.True(response.Status == 400, $"expected 400, got {response.Status}: {response.BodyText}");
        using var body = JsonDocument.Parse(response.Body);
        Assert.Equal("invalid_body", body.RootElement.GetProperty("error").GetProperty("code").GetString());
    }
}
