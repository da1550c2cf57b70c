using System.Net;
using Cocoon.Testing;
using Cocoon.Worker.Hosting;
using Cocoon.Worker.Inference;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Cocoon.Bot.Tests.Hosting;

/// <summary>
/// The whole path with nothing scripted: the gateway as shipped (Program.cs on Kestrel, loopback), the real
/// dispatcher and ledger (SQLite under the data folder), a real redis-server with AOF on, and one worker host with
/// llama.cpp on the small model. Gateway and worker log into one capturing provider at Trace level.
/// </summary>
public sealed class FullStackFixture : IAsyncLifetime
{
    public RedisServer Redis { get; } = new(appendOnly: true);

    public TempDir Data { get; } = new("cocoon-full");

    public string Prefix { get; } = "f" + Guid.NewGuid().ToString("N")[..10] + ":";

    public GatewayFactory Gateway { get; private set; } = null!;

    public IHost Worker { get; private set; } = null!;

    public CapturingLoggerProvider Logs => Gateway.Logs;

    /// <summary>What /healthz said before the worker registered.</summary>
    public (HttpStatusCode Status, string Body) HealthBeforeWorker { get; private set; }

    public string ModelName { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var ct = timeout.Token;
        Gateway = new GatewayFactory(Redis.Endpoint, Data.Path, "sk-cocoon-full-" + Guid.NewGuid().ToString("N"), settings: new Dictionary<string, string?>
        {
            ["Redis:Prefix"] = Prefix,
            ["Gateway:TrustedSimulatedPlatformKeys:0"] = Convert.ToHexStringLower(Cocoon.Worker.Attestation.SimulatedTeeProvider.ReadPlatformPublicKey(Path.Combine(Data.Path, "tee"))),
            ["Gateway:AcceptAnySimulatedMeasurement"] = "true",
            ["Gateway:AllowLocalProvider"] = "true",
            ["Gateway:RegistryRefresh"] = "00:00:00.100",
            ["Gateway:ResultPoll"] = "00:00:00.050",
            ["MiniApp:BotToken"] = MiniApp.MiniAppFixture.BotToken,
        });
        Gateway.Start();

        using (var anonymous = new HttpClient { BaseAddress = Gateway.BaseAddress })
        using (var response = await anonymous.GetAsync("healthz", ct))
        {
            HealthBeforeWorker = (response.StatusCode, await response.Content.ReadAsStringAsync(ct));
        }

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Redis:Endpoint"] = Redis.Endpoint,
            ["Redis:Prefix"] = Prefix,
            ["Cocoon:DataDir"] = Data.Path,
            ["Worker:Model"] = SharedFiles.SmallModel,
            ["Worker:HeartbeatInterval"] = "00:00:00.200",
            ["Worker:HeartbeatTtl"] = "00:00:01",
            ["Worker:JobPoll"] = "00:00:00.050",
            ["Llama:MaxConcurrency"] = "4",
            ["Llama:Threads"] = "1",

            // One chunk per token, as the streaming tests count pieces (the 10 ms default is tested in the worker's tests).
            ["Llama:ChunkIntervalMs"] = "0",
        });
        builder.Logging.SetMinimumLevel(LogLevel.Trace).AddProvider(Logs);
        builder.Services.AddLlamaInference(builder.Configuration);
        builder.Services.AddWorkerHost(builder.Configuration);
        Worker = builder.Build();
        await Worker.StartAsync(ct);

        using var client = new HttpClient { BaseAddress = Gateway.BaseAddress };
        while (true)
        {
            using var health = await client.GetAsync("healthz", ct);
            if (health.StatusCode == HttpStatusCode.OK)
            {
                using var doc = System.Text.Json.JsonDocument.Parse(await health.Content.ReadAsStringAsync(ct));
                ModelName = doc.RootElement.GetProperty("models")[0].GetString()!;
                break;
            }

            await Task.Delay(100, ct);
        }
    }

    public async Task DisposeAsync()
    {
        if (Worker is not null)
        {
            await Worker.StopAsync(CancellationToken.None);
            Worker.Dispose();
        }

        if (Gateway is not null)
        {
            await Gateway.DisposeAsync();
        }

        Redis.Dispose();
        Data.Dispose();
    }
}
