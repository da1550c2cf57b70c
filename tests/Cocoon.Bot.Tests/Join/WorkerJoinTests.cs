using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Cocoon.Bot.Dispatch;
using Cocoon.Bot.Tests.Hosting;
using Cocoon.Bot.Tests.Telegram;
using Cocoon.Ledger.Ton;
using Cocoon.Network.Hosting;
using Cocoon.Testing;
using Microsoft.Extensions.DependencyInjection;

namespace Cocoon.Bot.Tests.Join;

/// <summary>
/// A provider's whole path on a Redis with ACLs on: the bot's /provider register wizard (fake Bot API) issues a token
/// and an instruction; the instruction's variables start the Cocoon.Worker binary as a separate process with its own
/// data folder; it joins, serves a request with its own Redis user, shows in /provider status and the JSON endpoint;
/// a worker on an untrusted platform is refused in words; revoking the token stops the serving worker.
/// </summary>
public sealed class WorkerJoinTests
{
    private const long Owner = 7101;

    [Fact]
    public async Task A_worker_joins_with_the_wizards_token_serves_shows_in_status_and_stops_when_revoked()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = cts.Token;
        using var workerData = new TempDir("cocoon-join-worker");
        using var strangerData = new TempDir("cocoon-join-stranger");
        await using var api = new FakeBotApi();
        // Local (unjoined) workers are allowed here too: the provider id check below tells the joined worker from a local one.
        await using var network = JoinGateway.Start("join", [JoinGateway.PlatformOf(workerData.Path)], JoinGateway.Bot(api).With(new Dictionary<string, string?>
        {
            ["Gateway:AllowLocalProvider"] = "true",
        }));
        var (gateway, joinUrl) = (network.Gateway, network.JoinUrl);

        // The wizard, as a provider would go through it.
        var chat = new ProviderChat(api, Owner);
        var address = new TonAddress(0, Enumerable.Range(1, 32).Select(i => (byte)i).ToArray()).ToFriendly();
        var registered = await chat.RegisterAsync("RTX 4090", address);
        var (command, variables) = ProviderInstruction.Parse(registered);
        Assert.Equal("./cocoon worker", command);
        Assert.Equal(joinUrl, variables["COCOON_JOIN_URL"]);
        var token = variables["COCOON_WORKER_TOKEN"];

        // A worker on a platform the network does not trust is refused before it loads anything, in words, exit 3.
        using (var stranger = WorkerProcess.Start(variables, strangerData.Path, "w-stranger"))
        {
            await stranger.Process.WaitForExitAsync(ct);
            Assert.Equal(3, stranger.Process.ExitCode);
            Assert.Contains("the network refused this worker: untrusted-platform", stranger.Output, StringComparison.Ordinal);
            Assert.Contains("what to do:", stranger.Output, StringComparison.Ordinal);
        }

        // The provider's worker, as a separate process with its own data folder, started only with what the bot printed.
        using var worker = WorkerProcess.Start(variables, workerData.Path, "w-provider");
        var directory = gateway.Services.GetRequiredService<WorkerDirectory>();
        while (!directory.Eligible.Any(w => w.Document.WorkerId == "w-provider"))
        {
            Assert.False(worker.Process.HasExited, "the worker exited: " + worker.Output);
            await Task.Delay(100, ct);
        }

        var eligible = directory.Eligible.Single(w => w.Document.WorkerId == "w-provider");
        Assert.NotEqual("local", eligible.ProviderId);
        Assert.Contains("joined the network as worker w-provider", worker.Output, StringComparison.Ordinal);

        // It serves a request (the whole path with ACLs on).
        using var http = gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{eligible.Document.ModelName}}","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8}""", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using (var completion = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)))
        {
            Assert.True(completion.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
        }

        // /provider status names the worker online with its tier and the stranger's refusal with what to do.
        var status = await chat.SayAsync("/provider status", t => t.Contains("w-provider: online", StringComparison.Ordinal));
        Assert.Contains("tier simulated", status, StringComparison.Ordinal);
        Assert.Contains("w-stranger: refused", status, StringComparison.Ordinal);
        Assert.Contains("refused: untrusted-platform", status, StringComparison.Ordinal);

        // The JSON endpoint, with the worker token.
        using (var anonymous = new HttpClient { BaseAddress = gateway.BaseAddress })
        {
            using var unauthorized = await anonymous.GetAsync("v1/provider/status", ct);
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
            using var request = new HttpRequestMessage(HttpMethod.Get, "v1/provider/status");
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            using var json = await anonymous.SendAsync(request, ct);
            using var report = JsonDocument.Parse(await json.Content.ReadAsStringAsync(ct));
            var workers = report.RootElement.GetProperty("workers").EnumerateArray().ToList();
            Assert.True(workers.Single(w => w.GetProperty("workerId").GetString() == "w-provider").GetProperty("online").GetBoolean());
            Assert.Equal("untrusted-platform", workers.Single(w => w.GetProperty("workerId").GetString() == "w-stranger").GetProperty("refusal").GetString());
            Assert.Equal(7, report.RootElement.GetProperty("earningsPerDay").GetArrayLength());
        }

        // Revoking the token deletes the worker's Redis user at once: its next heartbeat fails, it asks the gateway
        // why, prints the reason and exits 3; the gateway stops offering it.
        await chat.SayAsync("/provider revoke", t => t.Contains("the old worker token is revoked", StringComparison.Ordinal));
        await worker.Process.WaitForExitAsync(ct);
        Assert.Equal(3, worker.Process.ExitCode);
        Assert.Contains("the network refused this worker: token-revoked", worker.Output, StringComparison.Ordinal);
        await directory.RefreshAsync(ct);
        Assert.DoesNotContain(directory.Eligible, w => w.Document.WorkerId == "w-provider");
    }

    [Fact]
    public async Task Over_tls_the_join_answer_hands_out_rediss_and_the_ca_and_the_worker_serves_a_job()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var ct = cts.Token;
        using var workerData = new TempDir("cocoon-tls-worker");
        // The gateway too connects over TLS; the plain port is only the test's.
        await using var network = JoinGateway.Start("tls", [JoinGateway.PlatformOf(workerData.Path)], tls: true);
        var (gateway, redis, joinUrl) = (network.Gateway, network.Redis, network.JoinUrl);
        var registration = await gateway.Services.GetRequiredService<Cocoon.Network.Providers.ProviderDirectory>()
            .RegisterAsync(new Cocoon.Network.Providers.ProviderProfile("tls provider"), ct);

        using var worker = WorkerProcess.Start(new Dictionary<string, string>
        {
            ["COCOON_WORKER_TOKEN"] = registration.WorkerToken,
            ["COCOON_JOIN_URL"] = joinUrl,
        }, workerData.Path, "w-tls");
        var directory = gateway.Services.GetRequiredService<WorkerDirectory>();
        while (!directory.Eligible.Any(w => w.Document.WorkerId == "w-tls"))
        {
            Assert.False(worker.Process.HasExited, "the worker exited: " + worker.Output);
            await Task.Delay(100, ct);
        }

        Assert.Contains($"Redis {redis.TlsEndpoint} as ", worker.Output, StringComparison.Ordinal);
        Assert.Contains("(TLS)", worker.Output, StringComparison.Ordinal);
        // The worker trusts the CA the join answer pinned: it wrote exactly that CA to its data folder.
        Assert.Equal(await File.ReadAllTextAsync(redis.Certificates!.CaFile, ct), await File.ReadAllTextAsync(Path.Combine(workerData.Path, "redis-ca.pem"), ct));

        using var http = gateway.CreateApiClient();
        using var response = await http.PostAsync("v1/chat/completions", new StringContent(
            $$"""{"model":"{{directory.Eligible.Single(w => w.Document.WorkerId == "w-tls").Document.ModelName}}","messages":[{"role":"user","content":"Once upon a time"}],"max_tokens":8}""", Encoding.UTF8, "application/json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var completion = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        Assert.True(completion.RootElement.GetProperty("usage").GetProperty("completion_tokens").GetInt32() > 0);
    }
}
