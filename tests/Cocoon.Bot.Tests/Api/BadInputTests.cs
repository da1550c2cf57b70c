using System.Net;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.MiniApp;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Api;

/// <summary>
/// The inputs a fuzzer once turned into empty 500s, each pinned: a chunk size that overflows, and any exception no
/// endpoint expected (here a dispatcher that throws) answering a JSON body with a request id in the API's own shape.
/// </summary>
public sealed class BadInputTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    [Theory]
    [InlineData("/v1/chat/completions", "FFFFFFFF")]
    [InlineData("/v1/completions", "FFFFFFFF")]
    [InlineData("/v1/chat/completions", "FFFFFFFFFFFFFFFFFFFF")]
    [InlineData("/v1/completions", "zz")]
    public async Task A_chunk_size_that_overflows_or_is_not_hex_is_a_400_json_error(string path, string chunkSize)
    {
        var request = RawHttp.Request("POST", path,
            ["Host: localhost", $"Authorization: Bearer {fixture.Gateway.ApiKey}", "Content-Type: application/json", "Transfer-Encoding: chunked", "Connection: close"],
            Encoding.ASCII.GetBytes(chunkSize + "\r\n{\"model\":\"scripted-echo\"}\r\n0\r\n\r\n"));
        var response = await RawHttp.SendAsync(fixture.Gateway.BaseAddress, request);
        Assert.True(response.Status == 400, $"expected 400, got {response.Status}: {response.BodyText}");
        using var body = JsonDocument.Parse(response.Body);
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_body", error.GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.True(response.Headers.ContainsKey("X-Request-Id"));
    }
}

/// <summary>A gateway whose dispatcher throws what no endpoint catches: every API answers a JSON 500 with a request id.</summary>
public sealed class UnexpectedFailureTests : IAsyncLifetime
{
    private readonly RedisServer _redis = new();
    private readonly TempDir _data = new("cocoon-faulty");
    private GatewayFactory _gateway = null!;

    public Task InitializeAsync()
    {
        _gateway = new GatewayFactory(_redis.Endpoint, _data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), new ThrowingDispatcher(),
            new Dictionary<string, string?> { ["MiniApp:BotToken"] = MiniAppFixture.BotToken });
        _gateway.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        _redis.Dispose();
        _data.Dispose();
    }

    [Fact]
    public async Task The_openai_api_answers_a_500_error_object_with_the_request_id()
    {
        using var client = _gateway.CreateApiClient();
        foreach (var send in new Func<Task<HttpResponseMessage>>[]
        {
            () => client.GetAsync("v1/models"),
            () => client.PostAsync("v1/chat/completions", new StringContent("""{"model":"m","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json")),
        })
        {
            using var response = await send();
            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var error = body.RootElement.GetProperty("error");
            Assert.Equal("server_error", error.GetProperty("type").GetString());
            Assert.Equal("internal_error", error.GetProperty("code").GetString());
            Assert.Contains(requestId, error.GetProperty("message").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain(ThrowingDispatcher.Secret, error.GetProperty("message").GetString(), StringComparison.Ordinal);

            // Logged once, with the exception, under the same request id.
            Assert.Contains(_gateway.Logs.Lines, l => l.Contains("[3351]", StringComparison.Ordinal) && l.Contains(requestId, StringComparison.Ordinal) && l.Contains(ThrowingDispatcher.Secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task The_mini_app_api_answers_a_500_json_body_with_the_request_id()
    {
        using var client = new HttpClient { BaseAddress = new Uri(_gateway.BaseAddress, "/miniapp/api/") };
        client.DefaultRequestHeaders.Authorization = new("tma", InitDataSigning.SignUser(MiniAppFixture.BotToken, """{"id":4242,"first_name":"Ann"}"""));
        using var response = await client.GetAsync("workers");
        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        var requestId = Assert.Single(response.Headers.GetValues("X-Request-Id"));
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("internal_error", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Contains(requestId, body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Fails the way a bug would: an exception type nothing maps.</summary>
    private sealed class ThrowingDispatcher : IDispatcher
    {
        public const string Secret = "registry-exploded-7f3a";

        public Task<IReadOnlyList<ServedModel>> GetModelsAsync(CancellationToken cancellationToken) =>
            throw new InvalidOperationException(Secret);

        public async IAsyncEnumerable<DispatchEvent> DispatchAsync(DispatchRequest request, [EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await Task.Yield();
            throw new InvalidOperationException(Secret);
#pragma warning disable CS0162 // an iterator needs a yield to be one
            yield break;
#pragma warning restore CS0162
        }
    }
}
