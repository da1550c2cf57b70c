using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenAI;
using OpenAI.Chat;
using OpenAI.Models;

namespace Cocoon.Bot.Tests.Api;

/// <summary>
/// The official OpenAI .NET client, unchanged, against the gateway's wire format (scripted answers, so every field
/// is known). The same client against the real worker is in the full-path tests.
/// </summary>
public sealed class OpenAiClientScriptedTests(ScriptedGatewayFixture fixture) : IClassFixture<ScriptedGatewayFixture>
{
    private ChatClient Chat(string model = Hosting.ScriptedDispatcher.Answering) =>
        new(model, new ApiKeyCredential(fixture.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(fixture.Gateway.BaseAddress, "v1") });

    [Fact]
    public async Task Non_streaming_chat_completion_parses()
    {
        ChatCompletion completion = await Chat().CompleteChatAsync([new SystemChatMessage("be brief"), new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 8, Temperature = 0 });
        Assert.Equal("Hello, world", completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(7, completion.Usage.InputTokenCount);
        Assert.Equal(2, completion.Usage.OutputTokenCount);
        Assert.Equal(9, completion.Usage.TotalTokenCount);
        Assert.StartsWith("chatcmpl-", completion.Id);
    }

    [Fact]
    public async Task Streaming_chat_completion_parses_with_usage_and_cost()
    {
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("hi")], new ChatCompletionOptions { MaxOutputTokenCount = 8 }))
        {
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }

            usage ??= update.Usage;
            finish ??= update.FinishReason;
        }

        Assert.Equal("Hello, world", text.ToString());
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage);
        Assert.Equal(2, usage.OutputTokenCount);
    }

    [Fact]
    public async Task Client_sees_busy_as_429()
    {
        // The client's own retries are off: it would honour Retry-After three times over before giving up.
        var client = new ChatClient(Hosting.ScriptedDispatcher.Busy, new ApiKeyCredential(fixture.Gateway.ApiKey), new OpenAIClientOptions
        {
            Endpoint = new Uri(fixture.Gateway.BaseAddress, "v1"),
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0),
        });
        var ex = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")], new ChatCompletionOptions()));
        Assert.Equal(429, ex.Status);
        Assert.True(ex.GetRawResponse()!.Headers.TryGetValue("Retry-After", out var retryAfter), "a 429 says when to come back");
        Assert.True(int.Parse(retryAfter!, System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    [Fact]
    public async Task Model_list_parses_with_workers()
    {
        var models = new OpenAIModelClient(new ApiKeyCredential(fixture.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(fixture.Gateway.BaseAddress, "v1") });
        OpenAIModelCollection list = await models.GetModelsAsync();
        Assert.Contains(list, m => m.Id == Hosting.ScriptedDispatcher.Answering && m.OwnedBy == "cocoon");

        using var http = fixture.Gateway.CreateApiClient();
        using var doc = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        var worker = doc.RootElement.GetProperty("data")[0].GetProperty("workers")[0];
        Assert.Equal(1000, worker.GetProperty("price_coefficient").GetInt32());
        Assert.Equal(4, worker.GetProperty("max_concurrency").GetInt32());
        Assert.Equal("simulated", worker.GetProperty("attestation").GetString());
    }

    [Fact]
    public async Task Usage_carries_total_cost_and_headers_carry_times()
    {
        using var http = fixture.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal(1234, doc.RootElement.GetProperty("usage").GetProperty("total_cost").GetInt64());

        // A chat has a conversation (its opening), so it gets a cache scope; the cached tokens are reported as OpenAI does.
        Assert.Equal(3, doc.RootElement.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        foreach (var header in new[] { "X-Cocoon-Gateway-Start", "X-Cocoon-Worker-Start", "X-Cocoon-Worker-End", "X-Cocoon-Gateway-End", "X-Cocoon-Worker", "X-Cocoon-Attestation", "X-Request-Id" })
        {
            Assert.True(response.Headers.Contains(header), header);
        }

        Assert.True(DateTimeOffset.Parse(response.Headers.GetValues("X-Cocoon-Gateway-End").Single(), System.Globalization.CultureInfo.InvariantCulture)
            >= DateTimeOffset.Parse(response.Headers.GetValues("X-Cocoon-Gateway-Start").Single(), System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task Streaming_chat_usage_reports_cached_prompt_tokens()
    {
        using var http = fixture.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent("""{"model":"scripted-echo","messages":[{"role":"user","content":"hi"}],"user":"u-1","stream":true,"stream_options":{"include_usage":true}}""", Encoding.UTF8, "application/json"));
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        using var last = JsonDocument.Parse(events[^2]["data: ".Length..]);
        var usage = last.RootElement.GetProperty("usage");
        Assert.Equal(7, usage.GetProperty("prompt_tokens").GetInt32());
        Assert.Equal(3, usage.GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
    }

    [Fact]
    public async Task Streaming_completions_end_with_done_and_the_cocoon_field()
    {
        using var http = fixture.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/completions", new StringContent("""{"model":"scripted-echo","prompt":"Once","stream":true,"stream_options":{"include_usage":true}}""", Encoding.UTF8, "application/json"));
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = (await response.Content.ReadAsStringAsync()).Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("data: [DONE]", events[^1]);
        using var last = JsonDocument.Parse(events[^2]["data: ".Length..]);
        Assert.Equal("simulated", last.RootElement.GetProperty("cocoon").GetProperty("attestation").GetString());
        Assert.Equal(1234, last.RootElement.GetProperty("usage").GetProperty("total_cost").GetInt64());

        // A raw prompt without `user` has no conversation: nothing cached.
        Assert.Equal(0, last.RootElement.GetProperty("usage").GetProperty("prompt_tokens_details").GetProperty("cached_tokens").GetInt32());
        Assert.Equal("stop", last.RootElement.GetProperty("choices")[0].GetProperty("finish_reason").GetString());
    }
}
