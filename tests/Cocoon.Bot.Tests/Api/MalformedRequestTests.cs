using System.Net;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Testing;

namespace Cocoon.Bot.Tests.Api;

/// <summary>A gateway on loopback with a real Redis for keys; the dispatcher is scripted so each failure is on demand.</summary>
public sealed class ScriptedGatewayFixture : IAsyncLifetime
{
    private readonly TempDir _data = new("cocoon-gw");

    public RedisServer Redis { get; } = new();

    public ScriptedDispatcher Dispatcher { get; } = new();

    public GatewayFactory Gateway { get; private set; } = null!;

    public Task InitializeAsync()
    {
        Gateway = new GatewayFactory(Redis.Endpoint, _data.Path, "sk-cocoon-test-" + Guid.NewGuid().ToString("N"), Dispatcher);
        Gateway.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        Redis.Dispose();
        _data.Dispose();
    }
}

public sealed class MalformedRequestTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    private const string Chat = "v1/chat/completions";

    [Theory]
    [InlineData("{", "invalid_json", null)]
    [InlineData("not json at all", "invalid_json", null)]
    [InlineData("[]", "invalid_json", null)]
    [InlineData("null", "invalid_json", null)]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_tokens":-5}""", "invalid_value", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_tokens":0}""", "invalid_value", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_tokens":"ten"}""", "invalid_type", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_tokens":1e99}""", "invalid_type", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"frobnicate":true}""", "unknown_parameter", "frobnicate")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi","mood":"sad"}]}""", "unknown_parameter", "messages[0].mood")]
    [InlineData("""{"model":"scripted-echo","messages":[]}""", "missing_required_parameter", "messages")]
    [InlineData("""{"model":"scripted-echo"}""", "missing_required_parameter", "messages")]
    [InlineData("""{"messages":[{"role":"user","content":"hi"}]}""", "missing_required_parameter", "model")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"wizard","content":"hi"}]}""", "invalid_value", "messages[0].role")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user"}]}""", "missing_required_parameter", "messages[0].content")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}""", "invalid_type", "messages[0].content")]
    [InlineData("""{"model":"scripted-echo","messages":"hi"}""", "invalid_type", "messages")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"temperature":9}""", "invalid_value", "temperature")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"n":3}""", "unsupported_value", "n")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"tools":[]}""", "unsupported_parameter", "tools")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_coefficient":-1}""", "invalid_value", "max_coefficient")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"timeout":-3}""", "invalid_value", "timeout")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"timeout":1e-300}""", "invalid_value", "timeout")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"timeout":0.5}""", "invalid_value", "timeout")]
    [InlineData("""{"model":"scripted-echo","messages":[null]}""", "invalid_type", "messages[0]")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"max_tokens":5,"max_completion_tokens":6}""", "invalid_value", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"seed":-1}""", "invalid_value", "seed")]
    [InlineData("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"stop":["a","b","c","d","e"]}""", "invalid_value", "stop")]
    public async Task Malformed_chat_request_is_a_400_naming_the_parameter(string body, string code, string? param)
    {
        var error = await PostAsync(Chat, body, HttpStatusCode.BadRequest);
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(code, error.GetProperty("code").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrWhiteSpace(error.GetProperty("message").GetString()));
    }

    [Theory]
    [InlineData("""{"model":"scripted-echo","prompt":"x","max_tokens":-1}""", "max_tokens")]
    [InlineData("""{"model":"scripted-echo","prompt":["a","b"]}""", "prompt")]
    [InlineData("""{"model":"scripted-echo","prompt":""}""", "prompt")]
    [InlineData("""{"model":"scripted-echo","prompt":"x","echo":true}""", "echo")]
    [InlineData("""{"model":"scripted-echo","prompt":"x","suffixx":"y"}""", "suffixx")]
    [InlineData("""{"model":"scripted-echo","prompt":42}""", "prompt")]
    public async Task Malformed_completion_request_is_a_400_naming_the_parameter(string body, string param)
    {
        var error = await PostAsync("v1/completions", body, HttpStatusCode.BadRequest);
        Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Deeply_nested_json_is_refused_not_recursed()
    {
        var body = """{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"metadata":""" + new string('[', 5000) + new string(']', 5000) + "}";
        await PostAsync(Chat, body, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Huge_body_is_413_without_being_read()
    {
        var body = """{"model":"scripted-echo","messages":[{"role":"user","content":" """ + new string('x', 2 * 1024 * 1024) + "\"}]}";
        // Expect: 100-continue, as a careful client sends a large body: the gateway answers 413 from the length alone and
        // the body is never sent. Without it the client may still be writing when the gateway closes the connection
        // after its 413, and the write fails with a broken pipe (seen once in a full run): a race of the client.
        using var client = fixture.Gateway.CreateApiClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = Json(body) };
        request.Headers.ExpectContinue = true;
        using var response = await client.SendAsync(request);
        var error = await ErrorAsync(response);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal("request_too_large", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task Huge_chunked_body_without_length_is_413()
    {
        using var client = fixture.Gateway.CreateApiClient();
        var payload = Encoding.UTF8.GetBytes(new string(' ', 200_000) + "{}");
        using var content = new StreamContent(new MemoryStream(payload));
        content.Headers.ContentType = new("application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, Chat) { Content = content };
        request.Headers.TransferEncodingChunked = true;
        using var response = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }

    [Fact]
    public async Task Missing_and_wrong_keys_are_401()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Gateway.BaseAddress };
        foreach (var auth in new string?[] { null, "Bearer sk-cocoon-not-a-key", "Basic abc", "Bearer " })
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, Chat)
            {
                Content = new StringContent("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"),
            };
            if (auth is not null)
            {
                request.Headers.TryAddWithoutValidation("Authorization", auth);
            }

            using var response = await anonymous.SendAsync(request);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            var error = await ErrorAsync(response);
            Assert.Equal("invalid_api_key", error.GetProperty("code").GetString());
            var challenge = Assert.Single(response.Headers.WwwAuthenticate);
            Assert.Equal("Bearer", challenge.Scheme);
            if (auth is "Bearer sk-cocoon-not-a-key")
            {
                Assert.Equal("error=\"invalid_token\"", challenge.Parameter); // RFC 6750 §3.1: a key was sent but is unknown
            }
            else if (auth is null or "Basic abc")
            {
                Assert.Null(challenge.Parameter); // no Bearer key sent: no error code
            }
        }

        using var models = await anonymous.GetAsync("v1/models");
        Assert.Equal(HttpStatusCode.Unauthorized, models.StatusCode);
        Assert.Equal("Bearer", Assert.Single(models.Headers.WwwAuthenticate).Scheme);
    }

    [Fact]
    public async Task Unknown_model_is_404_naming_model()
    {
        var error = await PostAsync(Chat, """{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}""", HttpStatusCode.NotFound);
        Assert.Equal("model_not_found", error.GetProperty("code").GetString());
        Assert.Equal("model", error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task Wrong_content_type_is_415()
    {
        using var client = fixture.Gateway.CreateApiClient();
        using var response = await client.PostAsync(Chat, new StringContent("{}", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Busy_workers_are_429_with_retry_after()
    {
        using var client = fixture.Gateway.CreateApiClient();
        foreach (var stream in new[] { false, true })
        {
            using var response = await client.PostAsync(Chat, Json($$"""{"model":"scripted-busy","stream":{{(stream ? "true" : "false")}},"messages":[{"role":"user","content":"hi"}]}"""));
            Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), response.Headers.RetryAfter?.Delta);
            Assert.Equal("workers_busy", (await ErrorAsync(response)).GetProperty("code").GetString());
        }
    }

    [Fact]
    public async Task Missing_funds_are_402()
    {
        var error = await PostAsync(Chat, """{"model":"scripted-broke","stream":true,"messages":[{"role":"user","content":"hi"}]}""", HttpStatusCode.PaymentRequired);
        Assert.Equal("insufficient_funds", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_dispatch_crash_is_a_502_not_a_500()
    {
        var error = await PostAsync(Chat, """{"model":"scripted-crashes","messages":[{"role":"user","content":"hi"}]}""", HttpStatusCode.BadGateway);
        Assert.Equal("dispatch_failed", error.GetProperty("code").GetString());
    }

    [Fact]
    public async Task A_failure_after_streaming_began_ends_the_stream_with_an_error_event()
    {
        using var client = fixture.Gateway.CreateApiClient();
        using var response = await client.PostAsync(Chat, Json("""{"model":"scripted-fails-mid-stream","stream":true,"messages":[{"role":"user","content":"hi"}]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"error\":", text, StringComparison.Ordinal);
        Assert.DoesNotContain("[DONE]", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_v1_path_is_a_json_404()
    {
        using var client = fixture.Gateway.CreateApiClient();
        using var response = await client.GetAsync("v1/engines");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("unknown_url", (await ErrorAsync(response)).GetProperty("code").GetString());
    }

    [Fact]
    public async Task Extensions_reach_the_dispatcher()
    {
        using var client = fixture.Gateway.CreateApiClient();
        var marker = Random.Shared.Next(1000, 9999);
        using var response = await client.PostAsync(Chat, Json($$"""{"model":"scripted-echo","max_coefficient":{{marker}},"timeout":7.5,"max_completion_tokens":9,"seed":5,"stop":"x","messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"a"},{"type":"text","text":"b"}]}]}"""));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var request = fixture.Dispatcher.Requests.Single(r => r.MaxCoefficient == marker);
        Assert.Equal(TimeSpan.FromSeconds(7.5), request.Timeout);
        Assert.Equal(9, request.Generation.Sampling.MaxTokens);
        Assert.Equal(5u, request.Generation.Sampling.Seed);
        Assert.Equal(["x"], request.Generation.Sampling.Stop);
        Assert.Equal("ab", request.Generation.Messages![1].Content);
        Assert.Equal(Cocoon.Bot.Hosting.GatewayOptions.LocalDeveloper, request.Payer);
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    private async Task<JsonElement> PostAsync(string path, string body, HttpStatusCode expected)
    {
        using var client = fixture.Gateway.CreateApiClient();
        using var response = await client.PostAsync(path, Json(body));
        var error = await ErrorAsync(response);
        Assert.True(expected == response.StatusCode, $"expected {expected}, got {response.StatusCode}: {error}");
        return error;
    }

    private static async Task<JsonElement> ErrorAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        using var doc = JsonDocument.Parse(text);
        var error = doc.RootElement.GetProperty("error").Clone();
        Assert.Equal(4, error.EnumerateObject().Count());
        return error;
    }
}
