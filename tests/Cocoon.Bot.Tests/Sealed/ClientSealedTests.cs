using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cocoon.Bot.Hosting;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.Privacy;
using Cocoon.Ledger.Accounts;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Sealed;

/// <summary>
/// The client-sealed path end to end, driven by an independent Node client (@hpke/core, Node's Ed25519 and
/// ChaCha20-Poly1305): it verifies the worker's attestation, seals to the attested key, and opens the sealed stream the
/// gateway relays; the gateway bills from the worker's receipt and nothing of the prompt or answer reaches its side.
/// </summary>
public sealed class ClientSealedTests(FullStackFixture stack) : IClassFixture<FullStackFixture>
{
    private static readonly NodeFolder Node = new(Path.Combine("tests", "Cocoon.Bot.Tests", "Sealed", "node"), Path.Combine("@hpke", "core"));

    private async Task<(NodeResult Run, JsonNode? Output)> RunClientAsync(string prompt, Action<JsonObject>? tweak = null)
    {
        var input = new JsonObject
        {
            ["base"] = stack.Gateway.BaseAddress.ToString(),
            ["apiKey"] = stack.Gateway.ApiKey,
            ["model"] = stack.ModelName,
            ["maxTokens"] = 40,
            ["temperature"] = 0,
            ["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = prompt }),
        };
        tweak?.Invoke(input);
        var run = await Node.RunAsync("sealed-client.mjs", stdin: input.ToJsonString());
        return (run, run.ExitCode == 0 ? JsonNode.Parse(run.Stdout) : null);
    }

    private async Task<Cocoon.Worker.Hosting.WorkerSession> SessionAsync() =>
        await stack.Worker.Services.GetRequiredService<Cocoon.Worker.Hosting.WorkerHost>().Session;

    [Fact]
    public async Task A_Node_client_seals_to_the_verified_worker_opens_the_relayed_stream_and_the_canary_leaves_no_trace()
    {
        var session = await SessionAsync();
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);
        var canary = "canary" + Guid.NewGuid().ToString("N");
        var (run, output) = await RunClientAsync($"Once upon a time {canary} met a little dog.", i => i["pinnedMeasurement"] = session.Bundle.Document.Measurement);

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.True(output!["ok"]!.GetValue<bool>(), run.Stdout);
        var answer = output["text"]!.GetValue<string>();
        Assert.True(answer.Trim().Length >= 20, $"the small model answered too little to search for: '{answer}'");
        Assert.Equal(session.WorkerId, output["workerId"]!.GetValue<string>());
        Assert.Equal(session.Bundle.Document.Measurement.ToLowerInvariant(), output["measurement"]!.GetValue<string>());
        Assert.Equal(session.Bundle.Document.ModelSha256, output["modelSha256"]!.GetValue<string>());
        Assert.Equal("simulated", output["teeKind"]!.GetValue<string>());

        // Billed from the worker's receipt: the usage the client checked against the signed receipt is what the ledger took.
        var usage = output["usage"]!;
        Assert.Equal(output["receipt"]!["completionTokens"]!.GetValue<int>(), usage["completion_tokens"]!.GetValue<int>());
        Assert.True(usage["completion_tokens"]!.GetValue<int>() > 0);
        var charged = usage["total_cost"]!.GetValue<long>();
        Assert.True(charged > 0);
        Assert.Equal(before - charged, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None));

        // The receipt is kept for its payer (and the next anchor) like any other: hashes and counts only.
        using (var api = stack.Gateway.CreateApiClient())
        {
            var document = System.Text.Json.Nodes.JsonNode.Parse(await api.GetStringAsync("v1/receipts/" + output["requestId"]!.GetValue<string>()))!;
            Assert.Equal(output["requestId"]!.GetValue<string>(), document["receipt"]!["requestId"]!.GetValue<string>());
            Assert.Equal(charged, document["charged_nanotons"]!.GetValue<long>());
        }

        // The privacy proof: the canary (every encoding) and the answer (whole and in windows) are nowhere on the gateway side.
        var needles = PrivacyScanner.Encodings(canary).ToList();
        needles.Add(("answer", Encoding.UTF8.GetBytes(answer)));
        for (var i = 0; i + 24 <= answer.Length; i += 8)
        {
            needles.Add(("answer window", Encoding.UTF8.GetBytes(answer.Substring(i, 24))));
        }

        var haystacks = new List<(string Where, byte[] Bytes)>();
        haystacks.AddRange(await PrivacyScanner.RedisContentsAsync(stack.Redis));
        haystacks.AddRange(PrivacyScanner.Files(stack.Data.Path));
        haystacks.AddRange(PrivacyScanner.Files(stack.Redis.DataDir));
        haystacks.Add(("logs", Encoding.UTF8.GetBytes(string.Join('\n', stack.Logs.Lines))));
        using (var anonymous = new HttpClient { BaseAddress = stack.Gateway.BaseAddress })
        {
            haystacks.Add(("/metrics", Encoding.UTF8.GetBytes(await anonymous.GetStringAsync("metrics"))));
        }

        var requestId = output["requestId"]!.GetValue<string>();
        PrivacyScanner.AssertScannedAndClean(haystacks, needles, stack.Logs.Lines, requestId);
    }

    [Theory]
    [InlineData("attempt")]
    [InlineData("deadline")]
    public async Task A_failed_sealed_attempt_is_a_retryable_error_naming_the_worker_nothing_is_billed_twice_and_the_client_re_seals(string broken)
    {
        var session = await SessionAsync();
        var ledger = stack.Gateway.Services.GetRequiredService<ILedger>();
        var before = await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None);

        // The first seal binds a wrong attempt number, or a deadline 1 ms later than the reservation's, into the v2 HPKE
        // info (as a stale or altered reservation would): the worker cannot open it, and the gateway cannot re-seal a job
        // it never saw, so it answers 503 naming the failure and the worker; the client reserves again and re-seals.
        var (run, output) = await RunClientAsync("Once upon a time", i =>
        {
            i["breakFirstBinding"] = broken == "deadline" ? "deadline" : true;
            i["maxAttempts"] = 2;
        });

        Assert.True(run.ExitCode == 0, run.Stderr);
        var attempts = output!["attempts"]!.AsArray();
        Assert.True(attempts.Count == 2, run.Stdout);
        var failed = attempts[0]!;
        Assert.False(failed["ok"]!.GetValue<bool>());
        Assert.Equal(503, failed["status"]!.GetValue<int>());
        Assert.Equal("sealed_attempt_failed", failed["error"]!["type"]!.GetValue<string>());
        Assert.Equal("undecryptable", failed["error"]!["code"]!.GetValue<string>());
        Assert.Equal(session.WorkerId, failed["error"]!["worker_id"]!.GetValue<string>());
        Assert.True(failed["error"]!["retryable"]!.GetValue<bool>());

        // A worker that cannot open the job has no control key to MAC its refusal with: the client sees it unauthenticated.
        Assert.False(failed["error"]!["authenticated"]!.GetValue<bool>());
        Assert.True(attempts[1]!["ok"]!.GetValue<bool>(), run.Stdout);
        Assert.NotEqual(failed["requestId"]!.GetValue<string>(), attempts[1]!["requestId"]!.GetValue<string>());

        // Billed once, for the answer only: the failed attempt's hold was released in full.
        var charged = attempts[1]!["usage"]!["total_cost"]!.GetValue<long>();
        Assert.True(charged > 0);
        Assert.Equal(before - charged, await ledger.GetBalanceAsync(GatewayOptions.LocalDeveloper, CancellationToken.None));
        Assert.Contains(stack.Logs.Lines, l => l.Contains($"Sealed request {failed["requestId"]!.GetValue<string>()} on {session.WorkerId} failed: undecryptable", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Excluding_the_failed_worker_leaves_no_worker_so_the_re_seal_never_goes_back_to_it_by_accident()
    {
        var (excluded, excludedOutput) = await RunClientAsync("Once upon a time", i => { i["breakFirstBinding"] = true; i["maxAttempts"] = 2; i["excludeFailed"] = true; });
        Assert.True(excluded.ExitCode == 0, excluded.Stderr);
        Assert.True(excludedOutput?["attempts"]?.AsArray().Count == 2 && excludedOutput["error"]?["code"] is not null, excluded.Stdout);
        var last = excludedOutput["attempts"]!.AsArray()[1]!;
        Assert.Equal("reserve", last["step"]!.GetValue<string>());
        Assert.Equal(503, last["status"]!.GetValue<int>());
        Assert.Equal("model_unavailable", last["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_client_refuses_a_changed_document_or_an_unpinned_measurement_before_sealing()
    {
        var (tampered, _) = await RunClientAsync("x", i => i["tamperDocument"] = true);
        Assert.NotEqual(0, tampered.ExitCode);
        Assert.Contains("the worker's signature does not cover the document", tampered.Stderr, StringComparison.Ordinal);

        var (pinned, _) = await RunClientAsync("x", i => i["pinnedMeasurement"] = new string('0', 64));
        Assert.NotEqual(0, pinned.ExitCode);
        Assert.Contains("is not the pinned", pinned.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_reservation_is_used_once_and_only_by_its_key()
    {
        using var http = stack.Gateway.CreateApiClient();
        using var reserved = await http.PostAsync("v1/sealed/reserve", new StringContent($$"""{"model":"{{stack.ModelName}}","max_tokens":8}""", Encoding.UTF8, "application/json"));
        var text = await reserved.Content.ReadAsStringAsync();
        Assert.True(reserved.StatusCode == HttpStatusCode.OK, text);
        using var reservation = JsonDocument.Parse(text);
        var requestId = reservation.RootElement.GetProperty("request_id").GetString();
        Assert.Equal(stack.ModelName, reservation.RootElement.GetProperty("model").GetString());

        // Garbage sealed to nobody: the worker refuses it; the gateway says so and the reservation is spent.
        var body = $$"""{"request_id":"{{requestId}}","enc":"{{Convert.ToBase64String(new byte[32])}}","ciphertext":"{{Convert.ToBase64String(new byte[64])}}","cancel_mac":"{{new string('0', 64)}}"}""";
        using var first = await http.PostAsync("v1/sealed/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        using var second = await http.PostAsync("v1/sealed/chat/completions", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.NotFound, second.StatusCode);
        Assert.Contains("reservation_not_found", await second.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        // The reservation names the deadline the HPKE info binds, exactly (whole milliseconds, and as UTC ticks).
        var deadline = reservation.RootElement.GetProperty("deadline").GetDateTimeOffset();
        Assert.Equal(deadline.UtcTicks.ToString(System.Globalization.CultureInfo.InvariantCulture), reservation.RootElement.GetProperty("deadline_ticks").GetString());
        Assert.Equal(0, deadline.UtcTicks % TimeSpan.TicksPerMillisecond);

        // Without the cancel MAC the gateway could not stop the worker when the client leaves: refused before relaying.
        using var again = await http.PostAsync("v1/sealed/reserve", new StringContent($$"""{"model":"{{stack.ModelName}}","max_tokens":8}""", Encoding.UTF8, "application/json"));
        using var againDoc = JsonDocument.Parse(await again.Content.ReadAsStringAsync());
        var noMac = $$"""{"request_id":"{{againDoc.RootElement.GetProperty("request_id").GetString()}}","enc":"{{Convert.ToBase64String(new byte[32])}}","ciphertext":"{{Convert.ToBase64String(new byte[64])}}"}""";
        using var refused = await http.PostAsync("v1/sealed/chat/completions", new StringContent(noMac, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("cancel_mac", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var noTokens = await http.PostAsync("v1/sealed/reserve", new StringContent($$"""{"model":"{{stack.ModelName}}"}""", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, noTokens.StatusCode);
    }
}
