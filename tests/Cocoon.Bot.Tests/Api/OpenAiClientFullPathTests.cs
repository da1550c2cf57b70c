using System.ClientModel;
using System.Net;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Ledger.Accounts;
using Microsoft.Extensions.DependencyInjection;
using OpenAI;
using OpenAI.Chat;

namespace Cocoon.Bot.Tests.Api;

/// <summary>The official OpenAI .NET client, unchanged, through the gateway, Redis and a real worker on the small model.</summary>
public sealed class OpenAiClientFullPathTests(FullStackFixture stack) : IClassFixture<FullStackFixture>
{
    private ChatClient Chat() =>
        new(stack.ModelName, new ApiKeyCredential(stack.Gateway.ApiKey), new OpenAIClientOptions { Endpoint = new Uri(stack.Gateway.BaseAddress, "v1") });

    [Fact]
    public async Task The_Mini_App_workers_answer_carries_the_live_workers_HPKE_key_and_attestation_document()
    {
        // The same gateway (the Mini App is part of it), so a client can seal for a worker itself, as the README says.
        var session = await stack.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;
        var initData = await MiniApp.NodeInitDataSigner.SignAsync(MiniApp.MiniAppFixture.BotToken, 424242, DateTimeOffset.UtcNow.AddMinutes(-1));
        using var client = new HttpClient { BaseAddress = new Uri(stack.Gateway.BaseAddress, "/miniapp/api/") };
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("tma", initData);
        using var response = await client.GetAsync("workers");
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        using var body = JsonDocument.Parse(text);
        var model = Assert.Single(body.RootElement.GetProperty("models").EnumerateArray());
        var worker = Assert.Single(model.GetProperty("workers").EnumerateArray());
        Assert.Equal(session.WorkerId, worker.GetProperty("worker_id").GetString());
        Assert.Equal(Convert.ToHexStringLower(session.Identity.Sealing.PublicKey), worker.GetProperty("hpke_public_key").GetString());
        var document = JsonSerializer.Deserialize(worker.GetProperty("attestation_document").GetRawText(), Cocoon.Engine.Attestation.AttestationJson.Default.AttestationDocument);
        Assert.NotNull(document);
        Assert.Equal(session.Bundle.Document.ToCanonicalBytes(), document.ToCanonicalBytes());
    }

    [Fact]
    public void Healthz_was_503_with_a_reason_before_a_worker_registered()
    {
        Assert.Equal(HttpStatusCode.ServiceUnavailable, stack.HealthBeforeWorker.Status);
        Assert.Contains("no attested worker", stack.HealthBeforeWorker.Body, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Streaming_and_non_streaming_give_the_same_greedy_answer_and_bill_what_usage_says()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var options = new ChatCompletionOptions { MaxOutputTokenCount = 24, Temperature = 0 };
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);

        ChatCompletion whole = await Chat().CompleteChatAsync([new UserChatMessage("Once upon a time")], options);

        var streamed = new StringBuilder();
        ChatTokenUsage? usage = null;
        var updates = 0;
        await foreach (var update in Chat().CompleteChatStreamingAsync([new UserChatMessage("Once upon a time")], options))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                streamed.Append(part.Text);
            }

            usage ??= update.Usage;
        }

        Assert.False(string.IsNullOrWhiteSpace(whole.Content[0].Text));
        Assert.Equal(whole.Content[0].Text, streamed.ToString());
        Assert.True(updates > 3, "the answer arrived in pieces");
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.True(whole.Usage.InputTokenCount > 0);

        // usage.total_cost is what the ledger actually took from the developer account.
        var after = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        using var http = stack.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","prompt":"Once upon a time","max_tokens":8,"temperature":0}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var cost = doc.RootElement.GetProperty("usage").GetProperty("total_cost").GetInt64();
        Assert.True(cost > 0);
        Assert.Equal(after - cost, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None));
        Assert.True(before > after);
        Assert.Equal("simulated", response.Headers.GetValues("X-Cocoon-Attestation").Single());
        Assert.Equal("simulated", doc.RootElement.GetProperty("cocoon").GetProperty("attestation").GetString());
    }

    [Fact]
    public async Task Models_list_the_live_worker_with_coefficient_and_load()
    {
        using var http = stack.Gateway.CreateApiClient();
        using var doc = JsonDocument.Parse(await http.GetStringAsync("v1/models"));
        var model = doc.RootElement.GetProperty("data").EnumerateArray().Single(m => m.GetProperty("id").GetString() == stack.ModelName);
        Assert.Equal(64, model.GetProperty("sha256").GetString()!.Length);
        var worker = Assert.Single(model.GetProperty("workers").EnumerateArray());
        Assert.Equal(1000, worker.GetProperty("price_coefficient").GetInt32());
        Assert.True(worker.GetProperty("max_concurrency").GetInt32() >= 1);
        Assert.Equal("simulated", worker.GetProperty("attestation").GetString());
    }

    [Fact]
    public async Task A_request_that_cannot_fit_the_context_is_a_400_with_the_numbers_before_any_hold()
    {
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var accounts = stack.Gateway.Services.GetRequiredService<ILedgerAccounts>();
        var balance = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        var entries = await accounts.GetRecentEntriesAsync(GatewayOptions.LocalDeveloper, 100, CancellationToken.None);

        // The worker attests a context of 2048 tokens (the default Llama:ContextSize); a prompt has at least one.
        using var http = stack.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":2048}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = doc.RootElement.GetProperty("error");
        Assert.Equal("max_tokens", error.GetProperty("param").GetString());
        var message = error.GetProperty("message").GetString()!;
        Assert.Contains("maximum context length is 2048 tokens", message, StringComparison.Ordinal);
        Assert.Contains("(at least 1 in the prompt, 2048 in max_tokens)", message, StringComparison.Ordinal);

        // Refused before any hold: the developer account has no new ledger entry and the same balance.
        Assert.Equal(balance, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None));
        Assert.Equal(entries, await accounts.GetRecentEntriesAsync(GatewayOptions.LocalDeveloper, 100, CancellationToken.None));
    }

    [Fact]
    public async Task Empty_messages_are_a_400_naming_messages_before_dispatch()
    {
        using var http = stack.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","messages":[{"role":"user","content":"  "}]}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("messages", doc.RootElement.GetProperty("error").GetProperty("param").GetString());
    }

    [Fact]
    public async Task The_canonical_request_handed_back_is_the_one_the_receipt_hashes_cache_scope_included()
    {
        // What `./cocoon ask` saves for `./cocoon verify`: a chat call always has a conversation, so the gateway puts a
        // cache scope into the sealed request; the bytes handed back must be those, not the caller's request without it.
        using var http = stack.Gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{stack.ModelName}}","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8,"temperature":0}""",
            Encoding.UTF8, "application/json"));
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);

        using var doc = JsonDocument.Parse(text);
        var info = doc.RootElement.GetProperty("cocoon");
        var canonical = Convert.FromBase64String(info.GetProperty("canonical_request").GetString()!);
        Assert.Equal(info.GetProperty("request_sha256").GetString(), Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(canonical)));
        var sealedRequest = JsonSerializer.Deserialize(canonical, Cocoon.Engine.Protocol.WireJsonContext.Default.GenerationRequest)!;
        Assert.False(string.IsNullOrEmpty(sealedRequest.CacheScope));
        Assert.Equal("Once upon a time", Assert.Single(sealedRequest.Messages!).Content);
    }
}
