using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Tests.Privacy;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing.Onnx;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Embeddings;

namespace Cocoon.Bot.Tests.Embeddings;

/// <summary>
/// /v1/embeddings through the official OpenAI .NET client, unchanged, against the gateway, Redis and a worker serving
/// the synthetic ONNX model; the vectors are checked against onnxruntime-node on the same file.
/// </summary>
public sealed class EmbeddingsFullPathTests(EmbeddingStackFixture stack) : IClassFixture<EmbeddingStackFixture>
{
    /// <summary>
    /// ONNX Runtime 1.31.1 (.NET, the worker, inputs padded into one batch) against onnxruntime-node 1.30.0 (one input
    /// per run, pooled in float64): every element of the unit vectors agrees to 1e-5 absolute.
    /// </summary>
    private const double Tolerance = 1e-5;

    private static readonly string[] Texts =
    [
        "Hello, world!",
        "The cats sat on the mat.",
        "how to cache embeddings for a knowledge base? query 42",
    ];

    private EmbeddingClient Client(string? model = null) =>
        new(model ?? EmbeddingStackFixture.EmbeddingModel, new ApiKeyCredential(stack.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(stack.Gateway.BaseAddress, "v1") });

    private async Task<(HttpStatusCode Status, JsonElement Body, HttpResponseMessage Response)> PostAsync(string json)
    {
        using var http = stack.Gateway.CreateApiClient();
        var response = await http.PostAsync("v1/embeddings", new StringContent(json, Encoding.UTF8, "application/json"));
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, doc.RootElement.Clone(), response);
    }

    [Fact]
    public async Task The_OpenAI_client_gets_the_vectors_onnxruntime_node_computes_and_usage_counts_the_input_tokens()
    {
        OpenAIEmbeddingCollection result = await Client().GenerateEmbeddingsAsync(Texts);
        var (ids, expected) = await NodeEmbeddingReference.EmbedAsync(stack.ModelPath, "mean", true, Texts);

        Assert.Equal(Texts.Length, result.Count);
        Assert.Equal(ids.Sum(r => r.Length), result.Usage.InputTokenCount);
        Assert.Equal(result.Usage.InputTokenCount, result.Usage.TotalTokenCount);
        for (var i = 0; i < Texts.Length; i++)
        {
            Assert.Equal(i, result[i].Index);
            var vector = result[i].ToFloats().ToArray();
            Assert.Equal(SyntheticOnnxEmbedding.Dimensions, vector.Length);
            for (var j = 0; j < vector.Length; j++)
            {
                Assert.True(Math.Abs(vector[j] - expected[i][j]) <= Tolerance, $"input {i} element {j}: {vector[j]} vs {expected[i][j]}");
            }
        }

        // dimensions equal to the model's own is accepted.
        OpenAIEmbedding one = await Client().GenerateEmbeddingAsync("hello", new EmbeddingGenerationOptions { Dimensions = SyntheticOnnxEmbedding.Dimensions });
        Assert.Equal(SyntheticOnnxEmbedding.Dimensions, one.ToFloats().Length);
    }

    [Fact]
    public async Task Float_and_base64_carry_the_same_vectors_and_total_cost_is_what_the_ledger_took()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        var (status, floats, response) = await PostAsync("""{"model":"synthetic-embed","input":["Hello, world!","Telegram"],"encoding_format":"float"}""");
        var after = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("list", floats.GetProperty("object").GetString());
        Assert.Equal("synthetic-embed", floats.GetProperty("model").GetString());
        var usage = floats.GetProperty("usage");
        var cost = usage.GetProperty("total_cost").GetInt64();
        Assert.True(cost > 0);
        Assert.Equal(before - cost, after);
        Assert.Equal(9, usage.GetProperty("prompt_tokens").GetInt32()); // [CLS] hello , world ! [SEP] + [CLS] telegram [SEP]
        Assert.Equal("simulated", response.Headers.GetValues("X-Cocoon-Attestation").Single());

        var (_, b64, _) = await PostAsync("""{"model":"synthetic-embed","input":["Hello, world!","Telegram"],"encoding_format":"base64"}""");
        for (var i = 0; i < 2; i++)
        {
            var fromFloats = floats.GetProperty("data")[i].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()).ToArray();
            var bytes = Convert.FromBase64String(b64.GetProperty("data")[i].GetProperty("embedding").GetString()!);
            var fromBase64 = Enumerable.Range(0, bytes.Length / 4).Select(k => BitConverter.ToSingle(bytes, k * 4)).ToArray();
            // Two requests, two runs of the model: ONNX Runtime's threaded reductions may differ in the last bits
            // between runs (seen: 1.5e-8), so the encodings are compared to 1e-6; a wrong encoding (byte order,
            // float64, a shifted offset) is off by far more.
            Assert.Equal(fromFloats.Length, fromBase64.Length);
            for (var k = 0; k < fromFloats.Length; k++)
            {
                Assert.Equal(fromFloats[k], fromBase64[k], 1e-6f);
            }
        }

        // Token ids of the model's vocabulary (without [CLS]/[SEP]) give the vector of their text.
        var (ids, _) = await NodeEmbeddingReference.EmbedAsync(stack.ModelPath, "mean", true, ["Telegram"]);
        var (tokenStatus, tokens, _) = await PostAsync($$"""{"model":"synthetic-embed","input":[[{{string.Join(',', ids[0][1..^1])}}]],"encoding_format":"float"}""");
        Assert.Equal(HttpStatusCode.OK, tokenStatus);
        Assert.Equal(
            floats.GetProperty("data")[1].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()),
            tokens.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(x => x.GetSingle()));
    }

    [Theory]
    [InlineData("""{"model":"synthetic-embed","input":""}""", "input", "empty")]
    [InlineData("""{"model":"synthetic-embed","input":[]}""", "input", "non-empty")]
    [InlineData("""{"model":"synthetic-embed"}""", "input", "'input' is required")]
    [InlineData("""{"model":"synthetic-embed","input":["ok",""]}""", "input", "input[1] is empty")]
    [InlineData("""{"model":"synthetic-embed","input":[1,-2]}""", "input", "token ids")]
    [InlineData("""{"model":"synthetic-embed","input":"x","encoding_format":"hex"}""", "encoding_format", "'float' or 'base64'")]
    [InlineData("""{"model":"synthetic-embed","input":"x","dimensions":16}""", "dimensions", "returns 32-dimensional vectors and cannot shorten them to 16")]
    public async Task Bad_input_is_a_400_naming_the_parameter(string body, string param, string message)
    {
        var (status, doc, _) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = doc.GetProperty("error");
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.Contains(message, error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Too_many_inputs_are_a_400_with_the_limit()
    {
        var body = "{\"model\":\"synthetic-embed\",\"input\":[" + string.Join(',', Enumerable.Repeat("\"a\"", 2049)) + "]}";
        var (status, doc, _) = await PostAsync(body);
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Contains("at most 2048 inputs; this request has 2049", doc.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_input_longer_than_the_model_takes_is_a_400_with_the_numbers_and_is_cut_only_when_asked()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var longText = string.Join(' ', Enumerable.Repeat("cat", 200));
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        var (status, doc, _) = await PostAsync($$"""{"model":"synthetic-embed","input":["hello","{{longText}}"]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = doc.GetProperty("error");
        Assert.Equal("input", error.GetProperty("param").GetString());
        Assert.Contains("input[1] is 202 tokens long, and this model takes at most 128 tokens per input", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("\"truncate\": true", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None)); // the hold was released

        var (cutStatus, cut, response) = await PostAsync($$"""{"model":"synthetic-embed","input":["hello","{{longText}}"],"truncate":true}""");
        Assert.Equal(HttpStatusCode.OK, cutStatus);
        Assert.Equal(3 + 128, cut.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
        Assert.Equal("1", response.Headers.GetValues("X-Cocoon-Truncated").Single());
    }

    [Fact]
    public async Task A_token_array_longer_than_the_model_takes_is_refused_by_the_gateway_before_dispatch_in_the_workers_words()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);

        // 127 ids + [CLS] + [SEP] = 129 > 128; 126 ids fit exactly (the control: the same path answers it).
        var (status, doc, response) = await PostAsync($$"""{"model":"synthetic-embed","input":[[5],[{{string.Join(',', Enumerable.Repeat(7, 127))}}]]}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        var error = doc.GetProperty("error");
        Assert.Equal("input", error.GetProperty("param").GetString());
        Assert.Equal("context_length_exceeded", error.GetProperty("code").GetString());
        Assert.Contains("input[1] is 129 tokens long, and this model takes at most 128 tokens per input", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Contains("\"truncate\": true", error.GetProperty("message").GetString(), StringComparison.Ordinal);

        // Before dispatch: no worker and no dispatcher line ever names this request (the worker logs its refusals
        // before it answers, so a refusal by the worker would be in the log by the time the 400 came back).
        var requestId = response.Headers.GetValues("X-Request-Id").Single();
        Assert.DoesNotContain(stack.Logs.Lines, l => l.Contains(requestId, StringComparison.Ordinal)
            && (l.Contains(" Cocoon.Worker.", StringComparison.Ordinal) || l.Contains(" Cocoon.Bot.Dispatch.", StringComparison.Ordinal)));
        Assert.Equal(before, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None));

        var (fitStatus, fit, _) = await PostAsync($$"""{"model":"synthetic-embed","input":[[{{string.Join(',', Enumerable.Repeat(7, 126))}}]]}""");
        Assert.Equal(HttpStatusCode.OK, fitStatus);
        Assert.Equal(128, fit.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
    }

    [Fact]
    public async Task A_chat_model_asked_for_embeddings_and_the_embedding_model_asked_for_chat_are_400s()
    {
        var (status, doc, _) = await PostAsync($$"""{"model":"{{stack.ChatModel}}","input":"hello"}""");
        Assert.Equal(HttpStatusCode.BadRequest, status);
        Assert.Equal("model", doc.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("is a chat model and cannot make embeddings", doc.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        using var http = stack.Gateway.CreateApiClient();
        using var chat = await http.PostAsync("v1/chat/completions", new StringContent(
            """{"model":"synthetic-embed","messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, chat.StatusCode);
        using var chatDoc = JsonDocument.Parse(await chat.Content.ReadAsStringAsync());
        Assert.Contains("is an embedding model: use POST /v1/embeddings", chatDoc.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);

        // The chat model still answers chat alongside.
        using var ok = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model":"{{stack.ChatModel}}","prompt":"Once upon a time","max_tokens":4,"temperature":0}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task A_canary_in_an_input_appears_nowhere_on_the_gateway_side()
    {
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var inputs = new[] { $"Once upon a time {canary} met a dog.", $"{canary} query", "plain" };
        OpenAIEmbeddingCollection result = await Client().GenerateEmbeddingsAsync(inputs);
        Assert.Equal(3, result.Count);
        var (_, floats, _) = await PostAsync(JsonSerializer.Serialize(new { model = "synthetic-embed", input = inputs, encoding_format = "float" }));
        Assert.Equal(3, floats.GetProperty("data").GetArrayLength());

        var needles = PrivacyScanner.Encodings(canary).ToList();
        var haystacks = await PrivacyScanner.EverywhereAsync(stack.Redis, stack.Data.Path, stack.Logs, stack.Gateway.BaseAddress);

        Assert.Contains(haystacks, h => h.Where.Contains("jobs:", StringComparison.Ordinal));
        Assert.Contains(haystacks, h => h.Where.Contains("appendonly", StringComparison.Ordinal));
        var leaks = PrivacyScanner.Leaks(haystacks, needles);
        Assert.True(leaks.Count == 0, string.Join("\n", leaks));
        Assert.Contains(needles, n => Encoding.UTF8.GetBytes(inputs[0]).AsSpan().IndexOf(n.Bytes) >= 0);
    }
}
